//! POP3 over PostgreSQL: the lease, the snapshot, streaming reads and the UPDATE state.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use buzon_store::{
    BoxFuture, ExpungeReport, MailStore, MessageMeta, MessageReader, Pop3Mailbox, StoreError,
};
use tokio::time::Instant;

use crate::{mailbox_key, PgStore};

/// What the local deadline keeps back from the lease: a tenth, at least 100 ms.
fn margin(lease: Duration) -> Duration {
    (lease / 10).max(Duration::from_millis(100))
}

/// The lease as this session knows it.
struct LeaseState {
    /// Until when this node may serve (see the crate documentation); `None`: lost.
    valid_until: Option<Instant>,
    /// The last sign of life of the session.
    last_touch: Instant,
}

struct Lease {
    store: PgStore,
    mailbox: String,
    holder: String,
    state: Mutex<LeaseState>,
}

impl Lease {
    fn lock(&self) -> std::sync::MutexGuard<'_, LeaseState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ok while the local deadline has not passed.
    fn check(&self) -> Result<(), StoreError> {
        self.deadline().map(|_| ())
    }

    /// The local deadline, while it has not passed.
    fn deadline(&self) -> Result<Instant, StoreError> {
        let state = self.lock();
        match state.valid_until {
            Some(until) if Instant::now() < until => Ok(until),
            _ => Err(self.lost()),
        }
    }

    fn lost(&self) -> StoreError {
        StoreError::Unavailable(format!(
            "lease lost on mailbox {}: this node could not renew it in time (database unreachable or session silent); log in again",
            self.mailbox
        ))
    }

    /// Runs a read for the session, giving up at the local deadline: a read that
    /// answers later (a database reachable again after a split) is never served.
    async fn bounded<T>(
        &self,
        read: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let deadline = self.deadline()?;
        let value = tokio::time::timeout_at(deadline, read)
            .await
            .map_err(|_| self.lost())??;
        self.check()?;
        Ok(value)
    }

    fn touch(&self) {
        self.lock().last_touch = Instant::now();
    }

    /// Renews while the session shows activity; ends when the lease is lost, the
    /// session went silent for the whole lease, or the mailbox is dropped (aborted).
    async fn renew_loop(self: Arc<Self>) {
        let lease = self.store.inner.lock_lease;
        let every = (lease / 4).max(Duration::from_millis(50));
        loop {
            tokio::time::sleep(every).await;
            let silent = self.lock().last_touch.elapsed() >= lease;
            if silent {
                tracing::debug!(mailbox = %self.mailbox, "POP3 session silent for the whole lease; no longer renewing");
                return;
            }
            let sent = Instant::now();
            let renewed = tokio::time::timeout(every, self.renew_once()).await;
            match renewed {
                Ok(Ok(true)) => {
                    self.lock().valid_until = Some(sent + lease - margin(lease));
                }
                Ok(Ok(false)) => {
                    tracing::warn!(mailbox = %self.mailbox, "POP3 lease taken over by another session");
                    self.lock().valid_until = None;
                    return;
                }
                Ok(Err(e)) => {
                    tracing::warn!(mailbox = %self.mailbox, "cannot renew the POP3 lease: {e}");
                }
                Err(_) => {
                    tracing::warn!(mailbox = %self.mailbox, "cannot renew the POP3 lease: no answer from the database in time");
                }
            }
        }
    }

    async fn renew_once(&self) -> Result<bool, StoreError> {
        let client = self.store.client().await?;
        let stmt = client
            .prepare_cached(
                "UPDATE leases SET expires_at = now() + ($3::float8 * interval '1 millisecond')
                 WHERE mailbox = $1 AND holder = $2",
            )
            .await
            .map_err(|e| self.store.db_error(&e))?;
        let n = client
            .execute(
                &stmt,
                &[
                    &self.mailbox,
                    &self.holder,
                    &lease_ms(self.store.inner.lock_lease),
                ],
            )
            .await
            .map_err(|e| self.store.db_error(&e))?;
        Ok(n == 1)
    }
}

fn lease_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// An open POP3 mailbox on PostgreSQL.
struct PgMailbox {
    lease: Arc<Lease>,
    mailbox_id: Option<i64>,
    ids: Vec<i64>,
    /// Bytes stored per message (in `message_chunks`), in the order of `ids`.
    raw_sizes: Vec<u64>,
    messages: Vec<MessageMeta>,
    renewal: tokio::task::JoinHandle<()>,
    /// [`Pop3Mailbox::release`] deleted the lease row already.
    released: std::sync::atomic::AtomicBool,
    /// Read ahead: what one query fetched for the messages after the one asked for.
    ahead: Mutex<ReadAhead>,
}

/// Mail programs read a mailbox in order (fetchmail and mpop RETR message after message;
/// previews TOP one after another), and every query is a round trip to the database. So
/// when message `i` is asked for, one query also fetches what the next ones will need:
/// the TOP prefixes of up to [`READ_AHEAD`] messages, or up to [`READ_AHEAD`] whole
/// one-chunk messages within [`READ_AHEAD_BYTES`]. At most that much is held per session,
/// and only while it reads; the snapshot's messages never change, so nothing goes stale.
#[derive(Default)]
struct ReadAhead {
    /// Message index → (prefix length asked for, its chunk-0 prefix row).
    heads: HashMap<usize, (usize, tokio_postgres::Row)>,
    /// Message index → its only chunk (a message of at most one chunk).
    whole: HashMap<usize, tokio_postgres::Row>,
}

/// Messages whose TOP prefix or whole body one query reads ahead.
const READ_AHEAD: usize = 16;
/// The most bytes of whole messages one query reads ahead.
const READ_AHEAD_BYTES: u64 = 512 * 1024;

impl PgMailbox {
    fn read_ahead(&self) -> std::sync::MutexGuard<'_, ReadAhead> {
        self.ahead.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Message `index`'s chunk-0 prefix of `n` bytes, from the read-ahead or with the
    /// prefixes of the next messages in one query. `None`: the message is gone.
    async fn head_of(
        &self,
        index: usize,
        n: usize,
    ) -> Result<Option<tokio_postgres::Row>, StoreError> {
        let kept = self.read_ahead().heads.remove(&index);
        if let Some((len, row)) = kept {
            if len == n {
                return Ok(Some(row));
            }
        }
        let end = (index + READ_AHEAD).min(self.ids.len());
        let ids: Vec<i64> = self.ids[index..end].to_vec();
        let len = i32::try_from(n).unwrap_or(i32::MAX);
        let rows = self
            .lease
            .bounded(fetch_many(self.lease.store.clone(), ids, Some(len)))
            .await?;
        Ok(self.keep_ahead(index, end, rows, |ahead, i, row| {
            ahead.heads.insert(i, (n, row));
        }))
    }

    /// Message `index` whole (it fits one chunk), from the read-ahead or with the next
    /// one-chunk messages in one query. `None`: the message is gone.
    async fn whole_of(&self, index: usize) -> Result<Option<tokio_postgres::Row>, StoreError> {
        let kept = self.read_ahead().whole.remove(&index);
        if let Some(row) = kept {
            return Ok(Some(row));
        }
        let mut end = index + 1;
        let mut bytes = self.raw_sizes.get(index).copied().unwrap_or(0);
        while end < self.ids.len() && end < index + READ_AHEAD {
            let size = self.raw_sizes.get(end).copied().unwrap_or(u64::MAX);
            if size > crate::CHUNK_SIZE as u64 || bytes + size > READ_AHEAD_BYTES {
                break;
            }
            bytes += size;
            end += 1;
        }
        let ids: Vec<i64> = self.ids[index..end].to_vec();
        let rows = self
            .lease
            .bounded(fetch_many(self.lease.store.clone(), ids, None))
            .await?;
        Ok(self.keep_ahead(index, end, rows, |ahead, i, row| {
            ahead.whole.insert(i, row);
        }))
    }

    /// Files the rows fetched for messages `index..end` (column 1 is the message id):
    /// the one for `index` is returned, the others kept for later calls in place of
    /// whatever was kept before.
    fn keep_ahead(
        &self,
        index: usize,
        end: usize,
        rows: Vec<tokio_postgres::Row>,
        mut put: impl FnMut(&mut ReadAhead, usize, tokio_postgres::Row),
    ) -> Option<tokio_postgres::Row> {
        let mut by_id: HashMap<i64, tokio_postgres::Row> = rows
            .into_iter()
            .filter_map(|r| r.try_get::<_, i64>(1).ok().map(|id| (id, r)))
            .collect();
        let mut ahead = self.read_ahead();
        *ahead = ReadAhead::default();
        for i in index + 1..end {
            if let Some(row) = self.ids.get(i).and_then(|id| by_id.remove(id)) {
                put(&mut ahead, i, row);
            }
        }
        self.ids.get(index).and_then(|id| by_id.remove(id))
    }
}

impl MailStore for PgStore {
    fn open_pop3<'a>(
        &'a self,
        user: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Pop3Mailbox>, StoreError>> {
        Box::pin(async move {
            let limit = open_deadline(self.inner.lock_lease);
            tokio::time::timeout(limit, self.lease_and_list(user))
                .await
                .unwrap_or_else(|_| {
                    Err(StoreError::Unavailable(format!(
                        "the PostgreSQL database at {} did not answer within {} s while opening the mailbox of {user}",
                        self.inner.url,
                        limit.as_secs_f32()
                    )))
                })
        })
    }
}

/// How long opening a mailbox may take: never past the lease it takes (the session could
/// not use it anyway), and at most 30 s — a database that went silent (a network split)
/// makes the login a temporary failure instead of holding the client.
fn open_deadline(lease: Duration) -> Duration {
    (lease - margin(lease)).min(Duration::from_secs(30))
}

impl PgStore {
    /// Takes the lease on `user`'s mailbox and lists it (the body of `open_pop3`).
    async fn lease_and_list(&self, user: &str) -> Result<Box<dyn Pop3Mailbox>, StoreError> {
        let mailbox = mailbox_key(user);
        let holder = format!("{}/{:016x}", self.inner.node, rand::random::<u64>());
        let lease_len = self.inner.lock_lease;
        let client = self.client().await?;
        let sent = Instant::now();
        let take = client
            .prepare_cached(
                "INSERT INTO leases (mailbox, holder, expires_at)
                 VALUES ($1, $2, now() + ($3::float8 * interval '1 millisecond'))
                 ON CONFLICT (mailbox) DO UPDATE
                     SET holder = excluded.holder, expires_at = excluded.expires_at
                     WHERE leases.expires_at < now()
                 RETURNING holder",
            )
            .await
            .map_err(|e| self.db_error(&e))?;
        let taken = client
            .query_opt(&take, &[&mailbox, &holder, &lease_ms(lease_len)])
            .await
            .map_err(|e| self.db_error(&e))?;
        if taken.is_none() {
            return Err(StoreError::InUse);
        }
        let lease = Arc::new(Lease {
            store: self.clone(),
            mailbox: mailbox.clone(),
            holder,
            state: Mutex::new(LeaseState {
                valid_until: Some(sent + lease_len - margin(lease_len)),
                last_touch: Instant::now(),
            }),
        });
        // From here on, a failure releases the lease (the guard's drop).
        let mut guard = ReleaseGuard(Some(Arc::clone(&lease)));
        let snapshot = self.snapshot(&client, &mailbox).await?;
        drop(client);
        let (mailbox_id, ids, raw_sizes, messages) = snapshot;
        let renewal = tokio::spawn(Arc::clone(&lease).renew_loop());
        guard.0 = None;
        Ok(Box::new(PgMailbox {
            lease,
            mailbox_id,
            ids,
            raw_sizes,
            messages,
            renewal,
            released: std::sync::atomic::AtomicBool::new(false),
            ahead: Mutex::new(ReadAhead::default()),
        }) as Box<dyn Pop3Mailbox>)
    }
}

/// Releases a lease taken by an `open_pop3` that then failed.
struct ReleaseGuard(Option<Arc<Lease>>);

impl Drop for ReleaseGuard {
    fn drop(&mut self) {
        if let Some(lease) = self.0.take() {
            release(lease);
        }
    }
}

/// Deletes the lease row (best effort, in the background; expiry frees it otherwise).
fn release(lease: Arc<Lease>) {
    let runtime = lease.store.inner.runtime.clone();
    runtime.spawn(async move {
        if !delete_lease(&lease, lease.store.inner.lock_lease).await {
            tracing::info!(mailbox = %lease.mailbox, "could not release the POP3 lease; it expires by itself");
        }
    });
}

/// Deletes `lease`'s row if this holder still has it; false when the database did not
/// answer within `limit` (the row then expires by itself).
async fn delete_lease(lease: &Lease, limit: Duration) -> bool {
    let done = tokio::time::timeout(limit, async {
        let client = lease.store.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM leases WHERE mailbox = $1 AND holder = $2")
            .await
            .map_err(|e| lease.store.db_error(&e))?;
        client
            .execute(&stmt, &[&lease.mailbox, &lease.holder])
            .await
            .map_err(|e| lease.store.db_error(&e))
    })
    .await;
    matches!(done, Ok(Ok(_)))
}

type Snapshot = (Option<i64>, Vec<i64>, Vec<u64>, Vec<MessageMeta>);

impl PgStore {
    /// INBOX then the served folders, each oldest delivery first; no bodies read.
    async fn snapshot(
        &self,
        client: &deadpool_postgres::Object,
        mailbox: &str,
    ) -> Result<Snapshot, StoreError> {
        let Some(row) = client
            .query_opt(
                &client
                    .prepare_cached("SELECT id FROM mailboxes WHERE name = $1")
                    .await
                    .map_err(|e| self.db_error(&e))?,
                &[&mailbox],
            )
            .await
            .map_err(|e| self.db_error(&e))?
        else {
            return Ok((None, Vec::new(), Vec::new(), Vec::new()));
        };
        let mailbox_id: i64 = row.get(0);
        let mut ids = Vec::new();
        let mut raw_sizes = Vec::new();
        let mut messages = Vec::new();
        let list = client
            .prepare_cached(
                "SELECT m.id, m.uidl, m.wire_size, m.raw_size FROM messages m
                 JOIN folders f ON f.id = m.folder
                 WHERE f.mailbox = $1 AND f.name = $2
                 ORDER BY m.delivered_at, m.id",
            )
            .await
            .map_err(|e| self.db_error(&e))?;
        let folders =
            std::iter::once("").chain(self.inner.serve_folders.iter().map(String::as_str));
        for folder in folders {
            let rows = client
                .query(&list, &[&mailbox_id, &folder])
                .await
                .map_err(|e| self.db_error(&e))?;
            for row in rows {
                ids.push(row.get::<_, i64>(0));
                raw_sizes.push(u64::try_from(row.get::<_, i64>(3)).unwrap_or(0));
                messages.push(MessageMeta {
                    uidl: row.get(1),
                    size: u64::try_from(row.get::<_, i64>(2)).unwrap_or(0),
                });
            }
        }
        Ok((Some(mailbox_id), ids, raw_sizes, messages))
    }
}

impl Pop3Mailbox for PgMailbox {
    fn messages(&self) -> &[MessageMeta] {
        &self.messages
    }

    fn touch(&self) {
        self.lease.touch();
    }

    fn release(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.renewal.abort();
            // Bounded: a database that does not answer leaves the row to expire.
            let limit = self.lease.store.inner.lock_lease.min(RELEASE_WAIT);
            if delete_lease(&self.lease, limit).await {
                self.released
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
        })
    }

    fn open_message(
        &self,
        index: usize,
        first: usize,
    ) -> BoxFuture<'_, Result<Box<dyn MessageReader>, StoreError>> {
        Box::pin(async move {
            self.lease.touch();
            self.lease.check()?;
            let Some(&id) = self.ids.get(index) else {
                return Err(StoreError::Invalid(format!(
                    "no message number {}",
                    index + 1
                )));
            };
            let raw_size = self.raw_sizes.get(index).copied();
            let mut reader = PgMessageReader::new(
                self.lease.store.clone(),
                id,
                Some(Arc::clone(&self.lease)),
                raw_size,
            );
            let first = first.max(1);
            let found = if first < crate::CHUNK_SIZE {
                match self.head_of(index, first).await? {
                    Some(row) => {
                        reader.start_with_prefix(row, first);
                        true
                    }
                    None => false,
                }
            } else if raw_size.is_some_and(|r| r <= crate::CHUNK_SIZE as u64) {
                match self.whole_of(index).await? {
                    Some(row) => {
                        reader.start_with_whole(row);
                        true
                    }
                    None => false,
                }
            } else {
                self.lease.bounded(reader.open(Some(first))).await?
            };
            if !found {
                return Err(StoreError::NotFound);
            }
            Ok(Box::new(reader) as Box<dyn MessageReader>)
        })
    }

    fn expunge(&self, indices: Vec<usize>) -> BoxFuture<'_, Result<ExpungeReport, StoreError>> {
        Box::pin(async move {
            let mut ids = Vec::new();
            let mut seen = HashSet::new();
            for i in indices {
                let Some(&id) = self.ids.get(i) else {
                    return Err(StoreError::Invalid(format!("no message number {}", i + 1)));
                };
                if seen.insert(i) {
                    ids.push(id);
                }
            }
            if ids.is_empty() {
                return Ok(ExpungeReport::default());
            }
            self.lease.check()?;
            let Some(mailbox_id) = self.mailbox_id else {
                return Ok(ExpungeReport::default());
            };
            let store = &self.lease.store;
            let mut client = store.client().await?;
            let tx = client.transaction().await.map_err(|e| store.db_error(&e))?;
            let ours = tx
                .query_opt(
                    "SELECT holder FROM leases
                     WHERE mailbox = $1 AND holder = $2 AND expires_at > now() FOR UPDATE",
                    &[&self.lease.mailbox, &self.lease.holder],
                )
                .await
                .map_err(|e| store.db_error(&e))?;
            if ours.is_none() {
                self.lease.lock().valid_until = None;
                return Err(StoreError::Unavailable(format!(
                    "lease lost on mailbox {}: nothing deleted; log in again",
                    self.lease.mailbox
                )));
            }
            tx.execute(
                "DELETE FROM message_chunks WHERE message = ANY($1)
                 AND message IN (SELECT id FROM messages WHERE mailbox = $2)",
                &[&ids, &mailbox_id],
            )
            .await
            .map_err(|e| store.db_error(&e))?;
            let deleted = tx
                .query(
                    "DELETE FROM messages WHERE id = ANY($1) AND mailbox = $2 RETURNING wire_size",
                    &[&ids, &mailbox_id],
                )
                .await
                .map_err(|e| store.db_error(&e))?;
            let bytes: i64 = deleted.iter().map(|r| r.get::<_, i64>(0)).sum();
            let count = deleted.len() as i64;
            tx.execute(
                "UPDATE mailboxes SET bytes = bytes - $2, messages = messages - $3 WHERE id = $1",
                &[&mailbox_id, &bytes, &count],
            )
            .await
            .map_err(|e| store.db_error(&e))?;
            tx.commit().await.map_err(|e| store.db_error(&e))?;
            Ok(ExpungeReport {
                deleted: deleted.len(),
                already_gone: ids.len() - deleted.len(),
            })
        })
    }
}

impl Drop for PgMailbox {
    fn drop(&mut self) {
        self.renewal.abort();
        if !self.released.load(std::sync::atomic::Ordering::Relaxed) {
            release(Arc::clone(&self.lease));
        }
    }
}

/// How long [`Pop3Mailbox::release`] waits for the database before leaving the lease row
/// to expire.
const RELEASE_WAIT: Duration = Duration::from_secs(2);

/// Chunks fetched by one query while streaming (at most this many times
/// [`CHUNK_SIZE`](crate::CHUNK_SIZE) bytes per batch; a reader holds the batch it serves
/// and at most one batch being fetched ahead, so a session streaming any message holds
/// at most `2 × CHUNKS_PER_QUERY` chunks).
pub(crate) const CHUNKS_PER_QUERY: i64 = 2;

/// Rows of one batch (column 0 is the bytes), fetched by a spawned task.
type Batch = Result<Vec<tokio_postgres::Row>, StoreError>;

/// Where the next batch starts.
#[derive(Clone, Copy)]
enum Start {
    /// The rest of chunk 0 from this byte offset (after a prefix read for TOP).
    RestOfFirst(i32),
    /// Whole chunks from this sequence number.
    Seq(i32),
}

/// One message streamed from `message_chunks`: a batch of chunks per query, the next
/// batch fetched while the current one is sent; rows are served from the database's
/// buffers without copying. TOP's first read fetches only a prefix of chunk 0
/// (`substring`, which PostgreSQL answers by decompressing only that prefix).
pub struct PgMessageReader {
    store: PgStore,
    message: i64,
    /// The session's lease, checked before every read (none for migration reads).
    lease: Option<Arc<Lease>>,
    /// Bytes stored for the message, when known: no query is made past them.
    raw_size: Option<u64>,
    /// Bytes fetched so far.
    fetched: u64,
    /// Rows of the current batch, served in order.
    rows: std::collections::VecDeque<tokio_postgres::Row>,
    /// Bytes of the front row already served.
    pos: usize,
    /// Where the next batch starts; `None` when the whole message was fetched.
    next_from: Option<Start>,
    /// The next batch, being fetched.
    ahead: Option<tokio::task::JoinHandle<Batch>>,
}

impl PgMessageReader {
    fn new(
        store: PgStore,
        message: i64,
        lease: Option<Arc<Lease>>,
        raw_size: Option<u64>,
    ) -> PgMessageReader {
        PgMessageReader {
            store,
            message,
            lease,
            raw_size,
            fetched: 0,
            rows: std::collections::VecDeque::new(),
            pos: 0,
            next_from: Some(Start::Seq(0)),
            ahead: None,
        }
    }

    /// A reader of message `id` without a POP3 lease (migration).
    pub(crate) async fn open_unleased(
        store: PgStore,
        id: i64,
    ) -> Result<PgMessageReader, StoreError> {
        let mut reader = PgMessageReader::new(store, id, None, None);
        if !reader.open(None).await? {
            return Err(StoreError::NotFound);
        }
        Ok(reader)
    }

    /// The first read: a prefix of `prefix` bytes of chunk 0 when given and smaller than a
    /// chunk (TOP), else the first batch. False when the message has no chunk (gone).
    async fn open(&mut self, prefix: Option<usize>) -> Result<bool, StoreError> {
        // A prefix is read for TOP, which usually stops within it: nothing is fetched
        // ahead of it (the rest is read when asked for).
        let mut ahead = true;
        let rows = match prefix {
            Some(n) if n < crate::CHUNK_SIZE => {
                ahead = false;
                let n = i32::try_from(n).unwrap_or(i32::MAX);
                let rows = fetch_prefix(self.store.clone(), self.message, n).await?;
                if let Some(row) = rows.first() {
                    let got = row_bytes(row).len();
                    // A prefix shorter than asked is the whole of chunk 0.
                    self.next_from = if got < n as usize {
                        Some(Start::Seq(1))
                    } else {
                        Some(Start::RestOfFirst(n))
                    };
                }
                rows
            }
            _ => {
                let rows = fetch_batch(self.store.clone(), self.message, Start::Seq(0)).await?;
                self.after_batch(Start::Seq(0), &rows);
                rows
            }
        };
        if rows.is_empty() {
            return Ok(false);
        }
        self.take(rows, ahead);
        Ok(true)
    }

    /// Starts with a chunk-0 prefix of `n` bytes read ahead (TOP): as `open(Some(n))`.
    fn start_with_prefix(&mut self, row: tokio_postgres::Row, n: usize) {
        let got = row_bytes(&row).len();
        self.next_from = if got < n {
            Some(Start::Seq(1))
        } else {
            Some(Start::RestOfFirst(i32::try_from(n).unwrap_or(i32::MAX)))
        };
        self.take(vec![row], false);
    }

    /// Starts with the whole chunk 0 read ahead (a message of at most one chunk).
    fn start_with_whole(&mut self, row: tokio_postgres::Row) {
        self.after_batch(Start::Seq(0), std::slice::from_ref(&row));
        self.take(vec![row], true);
    }

    /// Sets where the batch after `rows` (fetched from `from`) starts.
    fn after_batch(&mut self, from: Start, rows: &[tokio_postgres::Row]) {
        self.next_from = match from {
            // The rest of chunk 0 is one row; whole chunks follow.
            Start::RestOfFirst(_) => Some(Start::Seq(1)),
            Start::Seq(seq) if rows.len() as i64 == CHUNKS_PER_QUERY => {
                Some(Start::Seq(seq.saturating_add(CHUNKS_PER_QUERY as i32)))
            }
            // Fewer rows than asked: the last chunk was among them.
            Start::Seq(_) => None,
        };
    }

    /// Makes `rows` the current batch, counts them, and (with `ahead`) starts fetching
    /// the next batch unless the message is complete.
    fn take(&mut self, rows: Vec<tokio_postgres::Row>, ahead: bool) {
        self.fetched += rows.iter().map(|r| row_bytes(r).len() as u64).sum::<u64>();
        if matches!(self.raw_size, Some(raw) if self.fetched >= raw) {
            self.next_from = None;
        }
        self.rows = rows.into();
        self.pos = 0;
        if let (Some(from), true) = (self.next_from, ahead) {
            self.ahead = Some(tokio::spawn(fetch(self.store.clone(), self.message, from)));
        }
    }

    /// Makes the next batch current (the one fetched ahead, or fetched now); false at
    /// the end.
    async fn advance(&mut self) -> Result<bool, StoreError> {
        let Some(from) = self.next_from else {
            return Ok(false);
        };
        let ahead = self.ahead.take();
        let (store, message) = (self.store.clone(), self.message);
        let joined = async move {
            match ahead {
                Some(ahead) => ahead.await.map_err(|e| {
                    StoreError::Unavailable(format!(
                        "reading a message from PostgreSQL failed: {e}"
                    ))
                })?,
                None => fetch(store, message, from).await,
            }
        };
        let rows = match self.lease.clone() {
            Some(lease) => lease.bounded(joined).await?,
            None => joined.await?,
        };
        self.after_batch(from, &rows);
        if rows.is_empty() {
            self.next_from = None;
            return Ok(false);
        }
        self.take(rows, true);
        Ok(true)
    }

    /// The next piece of at most `limit` bytes; empty at the end.
    pub async fn next(&mut self, limit: usize) -> Result<&[u8], StoreError> {
        let limit = limit.max(1);
        if let Some(lease) = &self.lease {
            lease.touch();
            lease.check()?;
        }
        // Bounded: every turn drops a served row or fetches a batch, and a message ends.
        loop {
            match self.rows.front() {
                Some(row) if self.pos < row_bytes(row).len() => break,
                Some(_) => {
                    self.rows.pop_front();
                    self.pos = 0;
                }
                None => {
                    if !self.advance().await? {
                        return Ok(&[]);
                    }
                }
            }
        }
        let Some(row) = self.rows.front() else {
            return Ok(&[]);
        };
        let data = row_bytes(row);
        let n = limit.min(data.len() - self.pos);
        let start = self.pos;
        self.pos += n;
        Ok(&data[start..start + n])
    }
}

impl Drop for PgMessageReader {
    fn drop(&mut self) {
        if let Some(ahead) = self.ahead.take() {
            ahead.abort();
        }
    }
}

/// Column 0 of a chunk row (a NULL, which the schema forbids, reads as empty).
fn row_bytes(row: &tokio_postgres::Row) -> &[u8] {
    row.try_get::<_, &[u8]>(0).unwrap_or(&[])
}

/// The batch starting at `from`.
async fn fetch(store: PgStore, message: i64, from: Start) -> Batch {
    match from {
        Start::RestOfFirst(offset) => fetch_rest_of_first(store, message, offset).await,
        Start::Seq(_) => fetch_batch(store, message, from).await,
    }
}

async fn fetch_batch(store: PgStore, message: i64, from: Start) -> Batch {
    let Start::Seq(seq) = from else {
        return Ok(Vec::new());
    };
    let client = store.client().await?;
    let stmt = client
        .prepare_cached(
            "SELECT data FROM message_chunks WHERE message = $1 AND seq >= $2
             ORDER BY seq LIMIT $3",
        )
        .await
        .map_err(|e| store.db_error(&e))?;
    client
        .query(&stmt, &[&message, &seq, &CHUNKS_PER_QUERY])
        .await
        .map_err(|e| store.db_error(&e))
}

async fn fetch_prefix(store: PgStore, message: i64, n: i32) -> Batch {
    let client = store.client().await?;
    let stmt = client
        .prepare_cached(
            "SELECT substring(data from 1 for $2) FROM message_chunks
             WHERE message = $1 AND seq = 0",
        )
        .await
        .map_err(|e| store.db_error(&e))?;
    client
        .query(&stmt, &[&message, &n])
        .await
        .map_err(|e| store.db_error(&e))
}

/// Chunk 0 of each of `messages` (column 0; column 1 is the message id): its first
/// `prefix` bytes, or all of it.
async fn fetch_many(store: PgStore, messages: Vec<i64>, prefix: Option<i32>) -> Batch {
    let client = store.client().await?;
    let rows = match prefix {
        Some(n) => {
            let stmt = client
                .prepare_cached(
                    "SELECT substring(data from 1 for $2), message FROM message_chunks
                     WHERE message = ANY($1) AND seq = 0",
                )
                .await
                .map_err(|e| store.db_error(&e))?;
            client.query(&stmt, &[&messages, &n]).await
        }
        None => {
            let stmt = client
                .prepare_cached(
                    "SELECT data, message FROM message_chunks
                     WHERE message = ANY($1) AND seq = 0",
                )
                .await
                .map_err(|e| store.db_error(&e))?;
            client.query(&stmt, &[&messages]).await
        }
    };
    rows.map_err(|e| store.db_error(&e))
}

/// Chunk 0 from byte `offset` (0-based) on.
async fn fetch_rest_of_first(store: PgStore, message: i64, offset: i32) -> Batch {
    let client = store.client().await?;
    let stmt = client
        .prepare_cached(
            "SELECT substring(data from $2) FROM message_chunks WHERE message = $1 AND seq = 0",
        )
        .await
        .map_err(|e| store.db_error(&e))?;
    client
        .query(&stmt, &[&message, &offset.saturating_add(1)])
        .await
        .map_err(|e| store.db_error(&e))
}

impl MessageReader for PgMessageReader {
    fn next_chunk(&mut self, limit: usize) -> BoxFuture<'_, Result<&[u8], StoreError>> {
        Box::pin(self.next(limit))
    }
}
