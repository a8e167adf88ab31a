//! A POP3 session's view of its mailbox: a fixed snapshot, the lock, and UPDATE.
//!
//! RFC 1939 §8 lets a server take an exclusive-access lock for the whole session; the
//! snapshot taken when the session opens is what message numbers refer to until QUIT.
//! Deletion happens only in [`Session::expunge`] (RFC 1939 §6, UPDATE state), one
//! `unlink` per message: each message is either fully there or fully gone.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::api::{ExpungeReport, MessageMeta};
use crate::lock::MailboxLock;
use crate::maildir::fsync_dir;
use crate::name::{assign_uidls, before_info, file_size_attr, UidlInput};
use crate::open::open_regular;
use crate::scan::Scanned;
use crate::StoreError;

/// Where a message of the snapshot was when the session opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    pub path: PathBuf,
    /// The Maildir++ folder the message came from in a merged session; `None` for INBOX.
    pub folder: Option<String>,
}

/// A snapshot: what POP3 lists, and where each message is, index for index. Both halves
/// are shared with later sessions by the listing cache.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    pub metas: Arc<[MessageMeta]>,
    pub places: Arc<[Place]>,
}

/// The messages of one Maildir, in order, before UIDLs are assigned.
pub(crate) struct Part {
    pub folder: Option<String>,
    pub messages: Vec<Scanned>,
    /// UIDLs recorded or adopted from another server, message for message (`adopt`);
    /// empty when the Maildir's UIDLs are Buzón's own.
    pub given: Vec<Option<(String, bool)>>,
}

/// An open POP3 mailbox: holds the exclusive lock(s) until closed or dropped.
#[derive(Debug)]
pub struct Session {
    listing: Listing,
    _locks: Vec<MailboxLock>,
}

impl Session {
    pub(crate) fn new(locks: Vec<MailboxLock>, parts: Vec<Part>) -> Session {
        let uidls = {
            let inputs: Vec<UidlInput<'_>> = parts
                .iter()
                .flat_map(|p| {
                    p.messages.iter().enumerate().map(|(i, m)| UidlInput {
                        file_name: m.name.as_bytes(),
                        folder: p.folder.as_deref(),
                        given: p
                            .given
                            .get(i)
                            .and_then(Option::as_ref)
                            .map(|(u, kept)| (u.as_str(), *kept)),
                    })
                })
                .collect();
            assign_uidls(&inputs)
        };
        let (places, metas): (Vec<Place>, Vec<MessageMeta>) = parts
            .into_iter()
            .flat_map(|p| {
                let folder = p.folder;
                p.messages.into_iter().map(move |m| (folder.clone(), m))
            })
            .zip(uidls)
            .map(|((folder, m), uidl)| {
                (
                    Place {
                        path: m.path,
                        folder,
                    },
                    MessageMeta { uidl, size: m.size },
                )
            })
            .unzip();
        Session {
            listing: Listing {
                metas: metas.into(),
                places: places.into(),
            },
            _locks: locks,
        }
    }

    /// A session over a listing taken earlier (see `listing_cache`).
    pub(crate) fn from_listing(locks: Vec<MailboxLock>, listing: Listing) -> Session {
        Session {
            listing,
            _locks: locks,
        }
    }

    /// The listing, shareable with later sessions.
    pub(crate) fn listing(&self) -> &Listing {
        &self.listing
    }

    /// The snapshot, oldest delivery first (INBOX, then folders in the order given).
    pub fn messages(&self) -> &[MessageMeta] {
        &self.listing.metas
    }

    /// Where message `index` was when the session opened.
    pub fn message_path(&self, index: usize) -> Option<&Path> {
        self.listing.places.get(index).map(|p| p.path.as_path())
    }

    /// The Maildir++ folder message `index` comes from in a merged session; `None` for
    /// INBOX (and for an index out of range).
    pub fn message_folder(&self, index: usize) -> Option<&str> {
        self.listing.places.get(index)?.folder.as_deref()
    }

    fn entry(&self, index: usize) -> Result<&Place, StoreError> {
        self.listing.places.get(index).ok_or_else(|| {
            StoreError::Invalid(format!(
                "no message at index {index}; the mailbox has {}",
                self.listing.places.len()
            ))
        })
    }

    /// Opens message `index` for streaming (RETR, TOP). If another program renamed the
    /// file to change its flags, the renamed file is used. Refuses symbolic links and
    /// non-regular files ([`StoreError::Invalid`]); a vanished message is
    /// [`StoreError::NotFound`]. A file whose length differs from the `S=` in its name
    /// was truncated or rewritten after delivery, so the size listed for it (from `W=`)
    /// is wrong too: it is refused ([`StoreError::Invalid`]) rather than sent short.
    /// Gives the file's length too.
    pub fn open_message(&self, index: usize) -> Result<(File, u64), StoreError> {
        let entry = self.entry(index)?;
        let ((file, len), path) = match open_regular(&entry.path) {
            Err(StoreError::NotFound) => {
                match Relocator::new(&self.listing.places).find(&entry.path) {
                    Some(p) => (open_regular(&p)?, p),
                    None => return Err(StoreError::NotFound),
                }
            }
            Ok(f) => (f, entry.path.clone()),
            Err(e) => return Err(e),
        };
        check_size_attr(&path, len)?;
        Ok((file, len))
    }

    /// [`Session::open_message`] for an event loop: `Ok(None)` when opening would wait
    /// for the disk, and also when the message needs the slower path (it was moved by
    /// another program, or something about it must be explained); the caller then uses
    /// [`Session::open_message`] on a blocking thread. Gives the file's length too.
    pub fn open_message_cached(&self, index: usize) -> Result<Option<(File, u64)>, StoreError> {
        let entry = self.entry(index)?;
        let Some((file, len)) = crate::open::open_regular_cached(&entry.path)? else {
            return Ok(None);
        };
        check_size_attr(&entry.path, len)?;
        Ok(Some((file, len)))
    }

    /// RFC 1939 §6 UPDATE state: deletes the messages at `indices` (duplicates ignored).
    /// A message already gone counts as success. Every unlink is attempted even after a
    /// failure; then the affected directories are fsynced. An index out of range fails
    /// with [`StoreError::Invalid`] before anything is deleted; failed unlinks give
    /// [`StoreError::PartialExpunge`].
    pub fn expunge(&self, indices: &[usize]) -> Result<ExpungeReport, StoreError> {
        let unique: BTreeSet<usize> = indices.iter().copied().collect();
        for &i in &unique {
            self.entry(i)?;
        }
        let mut report = ExpungeReport::default();
        let mut failed = 0usize;
        let mut first_error = None;
        let mut dirs = BTreeSet::new();
        let mut relocator = Relocator::new(&self.listing.places);
        for &i in &unique {
            let path = &self.listing.places[i].path;
            let result = match fs::remove_file(path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => match relocator.find(path) {
                    Some(moved) => fs::remove_file(&moved).map(|()| Some(moved)),
                    None => Ok(None),
                },
                other => other.map(|()| Some(path.clone())),
            };
            match result {
                Ok(Some(removed)) => {
                    report.deleted += 1;
                    if let Some(dir) = removed.parent() {
                        dirs.insert(dir.to_path_buf());
                    }
                }
                Ok(None) => report.already_gone += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => report.already_gone += 1,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot delete message");
                    failed += 1;
                    first_error.get_or_insert_with(|| StoreError::io("delete", path, e));
                }
            }
        }
        let mut sync_error = None;
        for dir in &dirs {
            crate::usage_cache::forget(dir);
            if let Err(e) = fsync_dir(dir) {
                sync_error.get_or_insert(e);
            }
        }
        if let Some(first) = first_error {
            return Err(StoreError::PartialExpunge {
                deleted: report.deleted,
                failed,
                first_error: Box::new(first),
            });
        }
        if let Some(e) = sync_error {
            return Err(e);
        }
        Ok(report)
    }

    /// Ends the session and releases the lock(s); dropping the session does the same.
    pub fn close(self) {
        drop(self);
    }
}

/// Finds messages another program renamed after the snapshot (a flag change, or a move
/// from `new/` to `cur/`): a file with the same name up to the info part that is not
/// itself in the snapshot, and the only such file. Each directory is read at most once,
/// however many messages are looked for.
struct Relocator<'a> {
    entries: &'a [Place],
    snapshot: Option<HashSet<&'a Path>>,
    dirs: HashMap<PathBuf, HashMap<Vec<u8>, Vec<PathBuf>>>,
}

impl<'a> Relocator<'a> {
    fn new(entries: &'a [Place]) -> Self {
        Relocator {
            entries,
            snapshot: None,
            dirs: HashMap::new(),
        }
    }

    fn find(&mut self, original: &Path) -> Option<PathBuf> {
        let dir = original.parent()?;
        let want = before_info(original.file_name()?.as_bytes()).to_vec();
        let mut search = vec![dir.to_path_buf()];
        if dir.file_name().is_some_and(|n| n == "new") {
            search.push(dir.with_file_name("cur"));
        }
        let entries = self.entries;
        let snapshot = self
            .snapshot
            .get_or_insert_with(|| entries.iter().map(|e| e.path.as_path()).collect());
        let mut found = None;
        for d in search {
            let by_name = self.dirs.entry(d.clone()).or_insert_with(|| read_names(&d));
            for p in by_name.get(&want).into_iter().flatten() {
                if p == original || snapshot.contains(p.as_path()) {
                    continue;
                }
                if found.is_some() {
                    return None;
                }
                found = Some(p.clone());
            }
        }
        found
    }
}

/// Regular, non-hidden files of `dir` grouped by their name up to the info part.
fn read_names(dir: &Path) -> HashMap<Vec<u8>, Vec<PathBuf>> {
    let mut map: HashMap<Vec<u8>, Vec<PathBuf>> = HashMap::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return map;
    };
    for entry in rd.flatten() {
        let name = entry.file_name();
        let n = name.as_bytes();
        if n.first() == Some(&b'.') || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        map.entry(before_info(n).to_vec())
            .or_default()
            .push(entry.path());
    }
    map
}

/// A file whose length differs from the `S=` in its name was truncated or rewritten after
/// delivery, so the size listed for it (from `W=`) is wrong too: it is refused.
fn check_size_attr(path: &Path, len: u64) -> Result<(), StoreError> {
    let name = path.file_name().map(|n| n.as_bytes()).unwrap_or_default();
    match file_size_attr(name) {
        Some(want) if want != len => Err(StoreError::Invalid(format!(
            "{} is {len} bytes long but its name says S={want}: it was truncated or changed after delivery — move it out of the Maildir, or rename it without the S= and W= attributes so its size is computed again",
            path.display()
        ))),
        _ => Ok(()),
    }
}
