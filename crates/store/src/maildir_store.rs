//! The embedded Maildir store behind the [`MailStore`] seam: one Maildir per user under a
//! mail folder, INBOX merged with the folders POP3 is set to serve.
//!
//! The fast paths stay in here, invisible above the seam: the listing cache and size
//! index (in [`Maildir::open_session`]), and message reads from the page cache on the
//! event loop (`openat2` with `RESOLVE_CACHED`, `preadv2` with `RWF_NOWAIT`), so that
//! only what must wait for the disk goes to the blocking pool — one trip for the open
//! and the first chunk together. Message buffers are shared by all sessions: a reader
//! borrows one and gives it back when dropped, so idle sessions hold none.
//!
//! Must never: block an async worker on the disk, or delete anything outside
//! [`Pop3Mailbox::expunge`].

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::adopt::UidlSource;
use crate::api::{
    BoxFuture, DeliveryBatch, DeliveryStore, ExpungeReport, MailStore, MessageMeta, MessageReader,
    PartialCommit, Pop3Mailbox, StoredCopy, Usage,
};
use crate::{read_cached, Maildir, Prepared, Session, StoreError};

/// What interrupted deliveries leave in `tmp/` is removed after the Maildir convention's
/// 36 hours, so no delivery in progress is touched.
const TMP_LEFTOVER_AGE: Duration = Duration::from_secs(36 * 3600);

/// Size of one read from a message file, and of the shared buffers.
pub const MESSAGE_CHUNK: usize = 128 * 1024;
/// Buffers kept for reuse by all sessions.
const SPARE_BUFFERS: usize = 64;

/// Message buffers shared by all sessions (see the module documentation).
static BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A buffer of [`MESSAGE_CHUNK`] initialized bytes (zeroed once, when first made).
fn borrow_buffer() -> Vec<u8> {
    let spare = BUFFERS.lock().unwrap_or_else(|p| p.into_inner()).pop();
    spare.unwrap_or_else(|| vec![0; MESSAGE_CHUNK])
}

fn return_buffer(buf: Vec<u8>) {
    if buf.len() != MESSAGE_CHUNK {
        return;
    }
    let mut spare = BUFFERS.lock().unwrap_or_else(|p| p.into_inner());
    if spare.len() < SPARE_BUFFERS {
        spare.push(buf);
    }
}

/// Users' Maildirs under one mail folder: `<mail_dir>/<mailbox dir name>`. Cheap to
/// clone: clones share the record of Maildirs already cleaned.
#[derive(Debug, Clone)]
pub struct MaildirStore {
    mail_dir: PathBuf,
    serve_folders: Vec<String>,
    mailbox_dir: fn(&str) -> String,
    /// Maildirs whose `tmp/` was cleaned of crash leftovers since the start.
    cleaned: Arc<Mutex<HashSet<PathBuf>>>,
    /// Where existing messages' UIDLs come from (`[pop3] uidl_source`).
    uidl_source: UidlSource,
    /// A user's own choice, overriding `uidl_source` (the users database's
    /// `userdb_uidl_source`).
    uidl_source_of: Option<UidlSourceOf>,
}

/// Looks up a user's own UIDL source; `None` keeps the server's.
#[derive(Clone)]
pub struct UidlSourceOf(pub Arc<UidlLookup>);

/// The function behind [`UidlSourceOf`].
pub type UidlLookup = dyn Fn(&str) -> Option<UidlSource> + Send + Sync;

impl std::fmt::Debug for UidlSourceOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UidlSourceOf(..)")
    }
}

impl MaildirStore {
    /// `mailbox_dir` maps a (validated) user name to its folder's name under `mail_dir`;
    /// `serve_folders` are the Maildir++ folders POP3 lists after INBOX, in that order
    /// (those that do not exist are skipped).
    pub fn new(
        mail_dir: PathBuf,
        serve_folders: Vec<String>,
        mailbox_dir: fn(&str) -> String,
    ) -> MaildirStore {
        MaildirStore {
            mail_dir,
            serve_folders,
            mailbox_dir,
            cleaned: Arc::new(Mutex::new(HashSet::new())),
            uidl_source: UidlSource::Buzon,
            uidl_source_of: None,
        }
    }

    /// Serves the UIDLs another server served for the messages it listed (see `adopt`).
    pub fn with_uidl_source(mut self, source: UidlSource) -> MaildirStore {
        self.uidl_source = source;
        self
    }

    /// Lets each user override the UIDL source (`lookup` answers `None` for the server's).
    pub fn with_uidl_source_of(mut self, lookup: UidlSourceOf) -> MaildirStore {
        self.uidl_source_of = Some(lookup);
        self
    }

    fn inbox_root(&self, user: &str) -> PathBuf {
        self.mail_dir.join((self.mailbox_dir)(user))
    }

    /// The Maildir a delivery for `user` goes to, created when missing. Once per Maildir
    /// and process, what interrupted deliveries left in `tmp/` is removed first.
    fn delivery_target(&self, user: &str, folder: Option<&str>) -> Result<Maildir, StoreError> {
        let inbox = Maildir::create(self.inbox_root(user))?;
        let target = match folder {
            None => inbox,
            Some(name) => inbox.create_folder(name)?,
        };
        let first = self
            .cleaned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(target.root().to_path_buf());
        if first {
            match target.clean_tmp(TMP_LEFTOVER_AGE) {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(maildir = %target.root().display(), removed = n, "removed leftovers of interrupted deliveries from tmp/")
                }
                Err(e) => {
                    tracing::warn!(maildir = %target.root().display(), "cannot clean tmp/: {e}")
                }
            }
        }
        Ok(target)
    }

    fn open_session(&self, user: &str) -> Result<Session, StoreError> {
        let inbox = Maildir::create(self.inbox_root(user))?;
        let own = self.uidl_source_of.as_ref().and_then(|f| (f.0)(user));
        let source = own.as_ref().unwrap_or(&self.uidl_source);
        if self.serve_folders.is_empty() {
            return inbox.open_session_with(source);
        }
        let mut folders = Vec::new();
        for name in &self.serve_folders {
            match inbox.folder(name) {
                Ok(md) => folders.push((name.clone(), md)),
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Maildir::open_merged_session_with(&inbox, &folders, source)
    }
}

impl MailStore for MaildirStore {
    fn open_pop3<'a>(
        &'a self,
        user: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Pop3Mailbox>, StoreError>> {
        Box::pin(async move {
            let store = self.clone();
            let user = user.to_string();
            let session = tokio::task::spawn_blocking(move || store.open_session(&user))
                .await
                .map_err(|e| StoreError::Unavailable(format!("the mailbox task failed: {e}")))??;
            Ok(Box::new(MaildirMailbox {
                session: Arc::new(session),
            }) as Box<dyn Pop3Mailbox>)
        })
    }
}

impl DeliveryStore for MaildirStore {
    fn usage(&self, user: &str) -> Result<Usage, StoreError> {
        match Maildir::open(self.inbox_root(user)) {
            Ok(md) => md.mailbox_usage(),
            Err(StoreError::NotFound) => Ok(Usage::default()),
            Err(e) => Err(e),
        }
    }

    fn begin(&self) -> Box<dyn DeliveryBatch + '_> {
        Box::new(MaildirBatch {
            store: self,
            prepared: Vec::new(),
        })
    }
}

/// Copies written and fsynced under `tmp/`, moved into `new/` at commit. Dropped
/// uncommitted, each removes its temporary file.
struct MaildirBatch<'a> {
    store: &'a MaildirStore,
    prepared: Vec<Prepared>,
}

impl DeliveryBatch for MaildirBatch<'_> {
    fn add(
        &mut self,
        user: &str,
        folder: Option<&str>,
        message: &mut dyn Read,
    ) -> Result<(), StoreError> {
        let target = self.store.delivery_target(user, folder)?;
        self.prepared.push(target.prepare(message, None)?);
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<Vec<StoredCopy>, PartialCommit> {
        let mut stored = Vec::with_capacity(self.prepared.len());
        for p in self.prepared {
            match p.commit() {
                Ok(d) => stored.push(StoredCopy {
                    uidl: d.uidl,
                    size: d.size,
                }),
                Err(error) => return Err(PartialCommit { stored, error }),
            }
        }
        Ok(stored)
    }
}

/// An open Maildir POP3 session.
struct MaildirMailbox {
    session: Arc<Session>,
}

fn read_error(e: io::Error) -> StoreError {
    StoreError::Invalid(format!("read error: {e}"))
}

impl Pop3Mailbox for MaildirMailbox {
    fn messages(&self) -> &[MessageMeta] {
        self.session.messages()
    }

    fn open_message(
        &self,
        index: usize,
        first: usize,
    ) -> BoxFuture<'_, Result<Box<dyn MessageReader>, StoreError>> {
        Box::pin(async move {
            let buf = borrow_buffer();
            let first = first.clamp(1, MESSAGE_CHUNK);
            // A message whose directory entry and first pages are in the kernel's caches
            // is opened and read right here; otherwise both steps share one trip to the
            // blocking pool.
            let reader = match self.session.open_message_cached(index)? {
                Some((file, len)) => {
                    let mut reader = FileReader::new(file, len, buf);
                    reader.fill(first).await.map_err(read_error)?;
                    reader
                }
                None => {
                    let session = Arc::clone(&self.session);
                    tokio::task::spawn_blocking(move || {
                        let (file, len) = session.open_message(index)?;
                        let mut reader = FileReader::new(file, len, buf);
                        reader.fill_blocking(first).map_err(read_error)?;
                        Ok::<_, StoreError>(reader)
                    })
                    .await
                    .map_err(|e| {
                        StoreError::Unavailable(format!("the reader task failed: {e}"))
                    })??
                }
            };
            Ok(Box::new(reader) as Box<dyn MessageReader>)
        })
    }

    fn expunge(&self, indices: Vec<usize>) -> BoxFuture<'_, Result<ExpungeReport, StoreError>> {
        Box::pin(async move {
            if indices.is_empty() {
                return Ok(ExpungeReport::default());
            }
            let session = Arc::clone(&self.session);
            tokio::task::spawn_blocking(move || session.expunge(&indices))
                .await
                .map_err(|e| StoreError::Unavailable(format!("the deletion task failed: {e}")))?
        })
    }
}

/// A message file being streamed: the file, how many of its bytes are still to read, and
/// a shared buffer whose first `ready` bytes are read but not yet handed out.
struct FileReader {
    /// `None` only while a blocking read has it.
    file: Option<File>,
    left: u64,
    buf: Vec<u8>,
    ready: usize,
}

impl FileReader {
    fn new(file: File, len: u64, buf: Vec<u8>) -> FileReader {
        FileReader {
            file: Some(file),
            left: len,
            buf,
            ready: 0,
        }
    }

    /// How many bytes the next chunk of at most `limit` bytes holds.
    fn chunk_len(&self, limit: usize) -> usize {
        limit
            .min(self.buf.len())
            .min(usize::try_from(self.left).unwrap_or(usize::MAX))
    }

    /// Reads the next chunk (up to `limit` bytes) into the buffer: what is in the page
    /// cache right here, without blocking; the rest on the blocking pool.
    async fn fill(&mut self, limit: usize) -> io::Result<()> {
        let want = self.chunk_len(limit);
        let Some(file) = &self.file else {
            return Err(io::Error::other("message file lost by an earlier failure"));
        };
        let cached = read_cached(file, &mut self.buf[..want])?;
        self.left -= cached as u64;
        self.ready = cached;
        if cached == want {
            return Ok(());
        }
        let (Some(file), buf) = (self.file.take(), std::mem::take(&mut self.buf)) else {
            return Err(io::Error::other("message file lost by an earlier failure"));
        };
        let left = self.left;
        let (file, buf, got) = tokio::task::spawn_blocking(move || {
            let mut buf = buf;
            let got = read_full(&file, &mut buf[cached..want]);
            (file, buf, got)
        })
        .await
        .map_err(io::Error::other)?;
        self.file = Some(file);
        self.buf = buf;
        let got = got?;
        self.finish_read(cached, want, got, left);
        Ok(())
    }

    /// [`FileReader::fill`] on a blocking thread.
    fn fill_blocking(&mut self, limit: usize) -> io::Result<()> {
        let want = self.chunk_len(limit);
        let Some(file) = &self.file else {
            return Err(io::Error::other("message file lost by an earlier failure"));
        };
        let got = read_full(file, &mut self.buf[..want])?;
        self.finish_read(0, want, got, self.left);
        Ok(())
    }

    /// Books a read of `got` bytes after `before` already read, of `want` in all. A file
    /// that ends early was cut short after it was opened: what there is gets sent, and
    /// the message ends there.
    fn finish_read(&mut self, before: usize, want: usize, got: usize, left: u64) {
        self.ready = before + got;
        self.left = if before + got < want {
            0
        } else {
            left - got as u64
        };
    }
}

/// Fills `dst` from `source` (blocking) and gives the number of bytes read, fewer only at
/// the end of the input. Shared with the other stores, which fill their chunks the same way.
pub fn read_full(mut source: impl Read, dst: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    // Bounded: every turn reads at least one byte or stops.
    while got < dst.len() {
        match source.read(&mut dst[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl MessageReader for FileReader {
    fn next_chunk(&mut self, limit: usize) -> BoxFuture<'_, Result<&[u8], StoreError>> {
        Box::pin(async move {
            if self.ready == 0 && self.left > 0 {
                self.fill(limit).await.map_err(read_error)?;
            }
            let n = std::mem::take(&mut self.ready);
            let this: &FileReader = self;
            Ok(&this.buf[..n])
        })
    }
}

impl Drop for FileReader {
    fn drop(&mut self) {
        return_buffer(std::mem::take(&mut self.buf));
    }
}
