//! Buzón's shared mail store in PostgreSQL: users, mailboxes, folders, chunked messages,
//! usage for quotas and the POP3 exclusive lock as a lease row, so that any number of
//! stateless nodes serve the same users.
//!
//! Tested with PostgreSQL 15 from Debian. The SQL is kept to what PostgreSQL-compatible
//! distributed databases also accept (no advisory locks, no large objects, no
//! LISTEN/NOTIFY, no triggers); those are designed for, not tested.
//!
//! # Schema
//!
//! Numbered files under `schema/` (embedded, see [`SCHEMA_VERSION`]) are applied at
//! [`PgStore::connect`], in order, in one transaction that holds the `buzon_schema` row
//! (`SELECT … FOR UPDATE`), so nodes starting together apply each version once; a
//! database whose version is newer than this binary knows is refused.
//!
//! - `users (name, password, extra, home)`: the same `{SCHEME}hash` strings and extra
//!   fields as the users file; names unique ignoring ASCII case. `users_serial` is bumped
//!   in the same transaction as every change, so a node reloads only when it moved.
//! - `mailboxes (id, name, bytes, messages)`: one per user (keyed by
//!   [`buzon_auth::mailbox_dir_name`]), with usage kept current by the transactions that
//!   add and delete messages.
//! - `folders (id, mailbox, name)`: `''` is INBOX.
//! - `messages (id, mailbox, folder, uidl, wire_size, raw_size, delivered_at)`: the UIDL
//!   unique per mailbox, the RFC 1939 exact size computed at delivery with
//!   [`buzon_pop3_proto::wire::WireSize`] (as the Maildir store does).
//! - `message_chunks (message, seq, data)`: the raw message in chunks of
//!   [`CHUNK_SIZE`]; RETR reads two chunks per query (one prepared statement, the
//!   next batch fetched while the current one is sent, the end known from `raw_size`
//!   so no query is spent finding it), TOP first reads only a prefix of chunk 0
//!   (`substring`). Since schema version 2 the column is `STORAGE EXTERNAL`: stored
//!   out of line without compression, so a read decompresses nothing and a prefix reads
//!   only its own pages (rows stored before version 2 stay compressed and read the same;
//!   PostgreSQL then decompresses only the prefix). A PostgreSQL-compatible engine without
//!   TOAST must accept or ignore that `ALTER TABLE … SET STORAGE` (designed for, not
//!   tested).
//!
//! Every statement on a hot path (login, listing, lease, reads, deliveries) is prepared
//! once per pooled connection (`prepare_cached`): one round trip per statement instead
//! of two.
//! - `leases (mailbox, holder, expires_at)`: the POP3 lock.
//!
//! # Lease timing (why two nodes never serve one mailbox at once)
//!
//! A node takes the lease with one statement that inserts the row or takes over an
//! expired one (`INSERT … ON CONFLICT DO UPDATE … WHERE expires_at < now()`); the expiry
//! is `now() + lock_lease` on the database's clock. Renewals (every `lock_lease / 4`)
//! set the same expiry, only while the row still names this holder, and only while the
//! session has shown activity ([`Pop3Mailbox::touch`], a read) within `lock_lease`.
//!
//! The holder takes a monotonic instant `t` **before** sending each acquisition or
//! renewal; when it succeeds, the session is valid locally until
//! `t + lock_lease − margin` (margin: a tenth of the lease, at least 100 ms). The
//! database computed the expiry from its `now()`, the start of a transaction that began
//! after `t`, so the database expiry is later than the local deadline by at least the
//! margin, which absorbs the rate difference between the two clocks. Another node can
//! take the row only once the database's `now()` passed the expiry, that is after this
//! node's local deadline. Past the deadline, `open_message`, `next_chunk` and `expunge`
//! fail with [`StoreError::Unavailable`] ("lease lost"): a node that cannot reach the
//! database stops serving before anyone else may start. `expunge` also checks the lease
//! inside its own transaction (`SELECT … FOR UPDATE` on the row, holder = this session,
//! `expires_at > now()`), so deletions of a session that lost its lease never happen,
//! and a session whose node died deletes nothing. On a distributed database whose nodes'
//! clocks differ, the margin must also exceed the allowed clock offset.
//!
//! Dropping the mailbox deletes the row (best effort; if that fails, expiry frees it).
//!
//! # Threads
//!
//! [`PgStore`] keeps the handle of the Tokio runtime it was connected in. The
//! [`DeliveryStore`](buzon_store::DeliveryStore) side is synchronous and blocks on that runtime: call it from a
//! blocking thread (`spawn_blocking`) or a plain thread, never from async code, and the
//! runtime must be multi-threaded (a current-thread runtime cannot drive the connections
//! from `Handle::block_on`).
//!
//! # What the server wiring must do
//!
//! - At start (`buzon serve`, `buzon deliver`, `buzon user …`), inside a multi-threaded
//!   Tokio runtime: [`PgStore::connect_serving`] (or [`PgStore::connect`]) with the
//!   `[store]` settings and the POP3 `serve_folders`; on error print the message (one
//!   line, URL and fix included) and exit non-zero.
//! - One `PgStore` serves as both `Arc<dyn MailStore>` and `Arc<dyn DeliveryStore>`
//!   (clones share the pool).
//! - Call [`Pop3Mailbox::touch`] at every POP3 command: a session that sends nothing for
//!   `lock_lease` loses its lease (reads and streaming also count as activity).
//! - Replies: [`StoreError::InUse`] → `-ERR [IN-USE]`; [`StoreError::Unavailable`]
//!   (database down, lease lost) → `-ERR [SYS/TEMP]`, LMTP/SMTP `451 4.3.0`; both are
//!   [`StoreError::is_temporary`]. No restart is needed when the database returns: the
//!   pool reconnects on the next request.
//! - Users: instead of the users file, poll [`PgStore::users_serial`] (cheap: one row)
//!   where the file's stamp is checked today, and when it moved, load
//!   [`PgStore::user_snapshot`] into `buzon_auth::UserDb::from_entries`; keep the
//!   previous `UserDb` while the database is unreachable. `buzon user add|passwd|del|list`
//!   hash as for the file and call [`PgStore::add_user`], [`PgStore::set_password`],
//!   [`PgStore::remove_user`], [`PgStore::list_users`].
//! - Deliveries: the `DeliveryStore` calls must run on blocking threads (the intake
//!   already uses `spawn_blocking`); `buzon deliver` builds a multi-threaded runtime
//!   (one worker is enough), connects with `Runtime::block_on`, then calls the
//!   `DeliveryStore` methods from its main thread, outside `block_on`.
//! - Health checks (HAProxy): [`PgStore::ping`].
//! - `buzon migrate`: [`PgStore::list_folders`], [`PgStore::list_messages`],
//!   [`PgStore::read_message`] and [`PgStore::import_message`] (idempotent per UIDL).
#![forbid(unsafe_code)]

mod connect;
mod credentials;
mod delivery;
mod mailbox;
mod migrate;
mod users;

use std::sync::Arc;
use std::time::Duration;

use buzon_store::{PgSettings, StoreError};
use deadpool_postgres::Pool;

pub use buzon_store::Pop3Mailbox;
pub use connect::SCHEMA_VERSION;
pub use mailbox::PgMessageReader;
pub use migrate::StoredMessage;

/// Bytes per row of `message_chunks` (the Maildir store's read size).
pub const CHUNK_SIZE: usize = buzon_store::MESSAGE_CHUNK;

/// A connected PostgreSQL store: a pool of at most `pool_size` connections, shared by
/// all sessions (an idle POP3 session holds none). Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// `display_url()` of the settings, for messages.
    url: String,
    lock_lease: Duration,
    /// This node's part of every lease holder (host name and process id).
    node: String,
    /// Maildir++ folders POP3 lists after INBOX, in order.
    serve_folders: Vec<String>,
    runtime: tokio::runtime::Handle,
}

impl PgStore {
    /// Connects, checks the credentials and brings the schema up to date (see the crate
    /// documentation). Errors are one line naming the URL and the fix.
    pub async fn connect(settings: &PgSettings) -> Result<PgStore, StoreError> {
        connect::connect(settings, Vec::new()).await
    }

    /// As [`PgStore::connect`], with the folders POP3 lists after INBOX (in that order;
    /// folders that do not exist are skipped), as the Maildir store's `serve_folders`.
    pub async fn connect_serving(
        settings: &PgSettings,
        serve_folders: Vec<String>,
    ) -> Result<PgStore, StoreError> {
        connect::connect(settings, serve_folders).await
    }

    /// One round trip to the database: `Ok` when it answers (for health checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .batch_execute("SELECT 1")
            .await
            .map_err(|e| self.db_error(&e))
    }

    /// The URL (password hidden), for messages.
    pub fn display_url(&self) -> &str {
        &self.inner.url
    }

    /// A pooled connection, or `Unavailable` naming the database.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.inner.pool.get().await.map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot reach the PostgreSQL database at {}: {}",
                self.inner.url,
                connect::describe_pool_error(&e)
            ))
        })
    }

    /// A database error during work, as the store's temporary error.
    pub(crate) fn db_error(&self, e: &tokio_postgres::Error) -> StoreError {
        StoreError::Unavailable(format!(
            "PostgreSQL database at {}: {}",
            self.inner.url,
            connect::describe_db_error(e)
        ))
    }
}

/// The mailbox key of a user (names are unique ignoring ASCII case).
pub(crate) fn mailbox_key(user: &str) -> String {
    buzon_auth::mailbox_dir_name(user)
}
