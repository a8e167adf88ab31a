//! The store seam: what POP3 needs from a mail store, in terms of mail, not files.
//!
//! Nothing here names a path, a `File` or Maildir, so a store reached over the network
//! (a database) fits behind the same traits as the embedded Maildir store. Every operation
//! that may wait is async and returns a boxed future, so the server holds an
//! `Arc<dyn MailStore>` chosen by its configuration.
//!
//! The contract every implementation keeps:
//! - [`MailStore::open_pop3`] takes the mailbox's exclusive lock (RFC 1939 §8) or lease
//!   and a fixed snapshot; it fails with [`StoreError::InUse`] while another session holds
//!   it. The lock lasts as long as the returned [`Pop3Mailbox`]; dropping it (a lost
//!   connection, a crash of the holder) deletes nothing.
//! - The snapshot lists every message with its RFC 1939 "exact size" and §7 unique-id
//!   without reading bodies; both are stable across sessions.
//! - [`Pop3Mailbox::open_message`] streams one message in chunks, never the whole message
//!   at once.
//! - [`Pop3Mailbox::expunge`] is the UPDATE state: each listed message is either wholly
//!   deleted or wholly kept, and the result says which.

use std::future::Future;
use std::pin::Pin;

use crate::StoreError;

/// A future that a `dyn` store can return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One message of a POP3 snapshot, in POP3 order (message number = index + 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    /// RFC 1939 §7 unique-id: 1–70 characters 0x21–0x7E, stable across sessions.
    pub uidl: String,
    /// RFC 1939 "exact size": octets on the wire before dot-stuffing.
    pub size: u64,
}

/// What [`Pop3Mailbox::expunge`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpungeReport {
    /// Messages this call deleted.
    pub deleted: usize,
    /// Messages that were already gone (removed by someone else); counted as success.
    pub already_gone: usize,
}

/// A mail store as POP3 sees it.
pub trait MailStore: Send + Sync + 'static {
    /// Opens `user`'s POP3 mailbox (INBOX, merged with the folders the store is set to
    /// serve): takes the exclusive lock and a snapshot. [`StoreError::InUse`] while
    /// another session holds the lock.
    fn open_pop3<'a>(
        &'a self,
        user: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Pop3Mailbox>, StoreError>>;
}

/// An open POP3 mailbox: a fixed snapshot and the exclusive lock, held until dropped.
pub trait Pop3Mailbox: Send + Sync {
    /// The snapshot, oldest delivery first.
    fn messages(&self) -> &[MessageMeta];

    /// Opens message `index` for streaming and reads its first chunk of at most `first`
    /// bytes (RETR or TOP), so that a message that cannot be read is known before the
    /// positive reply goes out. [`StoreError::NotFound`] when it vanished.
    fn open_message(
        &self,
        index: usize,
        first: usize,
    ) -> BoxFuture<'_, Result<Box<dyn MessageReader>, StoreError>>;

    /// RFC 1939 §6 UPDATE: deletes the messages at `indices` (duplicates ignored). An
    /// index out of range fails before anything is deleted; messages that could not be
    /// deleted give [`StoreError::PartialExpunge`].
    fn expunge(&self, indices: Vec<usize>) -> BoxFuture<'_, Result<ExpungeReport, StoreError>>;

    /// The session is alive: the server calls this at each command. A store whose lock
    /// is a lease renews it only while the session shows activity, so a session silent
    /// for the lease's length loses its mailbox to a new login. Local locks ignore it.
    fn touch(&self) {}

    /// Lets the lock go now, waiting for it (briefly): the server calls this after
    /// UPDATE and before its reply to QUIT, so a client that reconnects at once finds
    /// the mailbox free. Dropping the mailbox releases it too (a shared store's lease
    /// then in the background). Local locks go when the mailbox is dropped.
    fn release(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// One message being streamed.
pub trait MessageReader: Send {
    /// The next chunk: first the one read by [`Pop3Mailbox::open_message`], then up to
    /// `limit` bytes each. Empty at the end of the message. A message that ends earlier
    /// than its listed size (cut short by another program) simply ends there.
    fn next_chunk(&mut self, limit: usize) -> BoxFuture<'_, Result<&[u8], StoreError>>;
}

/// Space a user's mailbox takes, INBOX and every folder together, for quotas.
pub use crate::maildir::Usage;

/// One copy a [`DeliveryBatch`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCopy {
    /// The RFC 1939 §7 unique-id the message will be listed under.
    pub uidl: String,
    /// The RFC 1939 "exact size" of the stored message.
    pub size: u64,
}

/// A commit that failed part way: the copies listed were made visible before the error.
/// They stay (the sender retries, and those mailboxes may see the message twice, which
/// beats losing it); a store that commits in one transaction never reports any.
#[derive(Debug)]
pub struct PartialCommit {
    pub stored: Vec<StoredCopy>,
    pub error: StoreError,
}

/// The delivery side of a mail store: how intake (LMTP, SMTP, `buzon deliver`) puts mail
/// in. Synchronous, because the delivery engine runs on blocking threads; a store reached
/// over the network blocks on its client there.
pub trait DeliveryStore: Send + Sync + 'static {
    /// The space `user`'s mailbox takes; zero when it does not exist yet. Cheap enough to
    /// ask at every RCPT (implementations cache it and keep it current).
    fn usage(&self, user: &str) -> Result<Usage, StoreError>;

    /// Starts a delivery whose copies become visible together, or not at all.
    fn begin(&self) -> Box<dyn DeliveryBatch + '_>;
}

/// An all-or-nothing delivery of one message to one or several mailboxes and folders.
/// Dropping it without [`DeliveryBatch::commit`] stores nothing.
pub trait DeliveryBatch: Send {
    /// Writes one copy for `user`, into INBOX or `folder` (created when missing),
    /// durably but not yet visible. The message is read to its end.
    fn add(
        &mut self,
        user: &str,
        folder: Option<&str>,
        message: &mut dyn std::io::Read,
    ) -> Result<(), StoreError>;

    /// Makes every added copy visible, in the order added; only then may the delivery
    /// be acknowledged.
    fn commit(self: Box<Self>) -> Result<Vec<StoredCopy>, PartialCommit>;
}
