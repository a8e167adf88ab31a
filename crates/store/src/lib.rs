//! Mailbox storage for Buzón: Maildir with durable delivery, exact sizes and stable
//! UIDLs without reading message bodies, RFC 1939 §8 session locks, atomic expunge,
//! Maildir++ folders and usage figures for quotas.
//!
//! The interface is shaped by POP3: [`Maildir::open_session`] locks a mailbox and returns
//! a [`Session`] with a fixed snapshot of [`MessageEntry`] values (RFC 1939 "exact size"
//! and §7 unique-id each); [`Session::open_message`] streams one message;
//! [`Session::expunge`] is the UPDATE state; [`Maildir::deliver`] is the one way mail gets
//! in. Sizes are computed with [`buzon_pop3_proto::wire::WireSize`], the same rules the
//! POP3 encoder uses, so LIST and RETR can never disagree.
//!
//! This crate never follows symbolic links inside a Maildir, never shows a partially
//! written message, and never panics on file names or contents from disk. The UIDL format
//! is specified in [`name`]; the size cache in `index`; locking in `lock`.
#![forbid(unsafe_code)]

pub mod date;
mod error;
mod index;
mod listing_cache;
mod lock;
mod maildir;
pub mod name;
mod open;
mod prepared;
mod session;

pub use error::StoreError;
pub use maildir::{Delivered, Maildir, Usage};
pub use open::read_cached;
pub use prepared::Prepared;
pub use session::{ExpungeReport, MessageEntry, Session};
