//! Mailbox storage for Buzón.
//!
//! The server sees mail stores only through the [`MailStore`] seam (module `api`): open a
//! user's POP3 mailbox with its lock and a fixed snapshot of [`MessageMeta`] values (RFC
//! 1939 "exact size" and §7 unique-id each), stream one message in chunks
//! ([`MessageReader`]), expunge in the UPDATE state. No path, `File` or Maildir term
//! crosses it, so a store reached over the network fits behind it unchanged.
//!
//! [`MaildirStore`] is the embedded implementation, over [`Maildir`]: durable delivery
//! ([`Maildir::deliver`], [`Maildir::prepare`]), sizes and UIDLs without reading bodies,
//! flock session locks, atomic expunge, Maildir++ folders and usage figures for quotas.
//! Sizes are computed with [`buzon_pop3_proto::wire::WireSize`], the same rules the POP3
//! encoder uses, so LIST and RETR can never disagree.
//!
//! This crate never follows symbolic links inside a Maildir, never shows a partially
//! written message, and never panics on file names or contents from disk. The UIDL format
//! is specified in [`name`]; the size cache in `index`; locking in `lock`; safe opens and
//! page-cache reads in `open`.
#![forbid(unsafe_code)]

pub mod adopt;
mod api;
pub mod date;
mod error;
mod index;
mod listing_cache;
mod lock;
mod maildir;
mod maildir_store;
pub mod name;
mod open;
mod prepared;
mod scan;
mod session;
mod settings;
mod usage_cache;

pub use adopt::{UidlFormat, UidlSource};
pub use api::{
    BoxFuture, DeliveryBatch, DeliveryStore, ExpungeReport, MailStore, MessageMeta, MessageReader,
    PartialCommit, Pop3Mailbox, StoredCopy,
};
pub use error::StoreError;
pub use maildir::{Delivered, Maildir, Usage};
pub use maildir_store::{read_full, MaildirStore, UidlSourceOf, MESSAGE_CHUNK};
pub use open::read_cached;
pub use prepared::Prepared;
pub use session::Session;
pub use settings::{PgSettings, StoreSettings};
pub use usage_cache::{usage_scans, UNSETTLED_TTL};
