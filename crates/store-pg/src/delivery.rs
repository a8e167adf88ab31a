//! Deliveries: every copy of one message, for every recipient, in one transaction.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::time::{SystemTime, UNIX_EPOCH};

use buzon_pop3_proto::wire::WireSize;
use buzon_store::{DeliveryBatch, DeliveryStore, PartialCommit, StoreError, StoredCopy, Usage};

use crate::{mailbox_key, PgStore, CHUNK_SIZE};

/// A new unique-id: microseconds since 1970 then 48 random bits, in lowercase hex (25
/// characters, sortable by delivery time, within RFC 1939 §7's 0x21–0x7E).
pub(crate) fn new_uidl() -> String {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    format!(
        "{:013x}{:012x}",
        micros & 0x1f_ffff_ffff_ffff,
        rand::random::<u64>() & 0xffff_ffff_ffff
    )
}

/// The folder row name: `''` for INBOX, else the folder's name (checked).
pub(crate) fn folder_key(folder: Option<&str>) -> Result<&str, StoreError> {
    match folder {
        None => Ok(""),
        Some(name) if name.eq_ignore_ascii_case("INBOX") => Ok(""),
        Some(name) => {
            let bad = name.is_empty()
                || name.len() > 255
                || name.starts_with('.')
                || name.contains(['/', '\\'])
                || name.chars().any(|c| c.is_control());
            if bad {
                Err(StoreError::Invalid(format!(
                    "invalid folder name {name:?}: 1-255 characters, no slash, backslash or control character, not starting with a dot"
                )))
            } else {
                Ok(name)
            }
        }
    }
}

impl PgStore {
    /// Runs `fut` on the store's runtime from a thread outside it (see "Threads").
    pub(crate) fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        self.inner.runtime.block_on(fut)
    }

    /// The mailbox and folder ids for a delivery inside `tx`, created when missing: one
    /// round trip when both exist (the usual case), prepared once per connection.
    pub(crate) async fn ensure_folder(
        &self,
        client: &deadpool_postgres::Object,
        user: &str,
        folder: &str,
    ) -> Result<(i64, i64), StoreError> {
        let err = |e: tokio_postgres::Error| self.db_error(&e);
        let mailbox = mailbox_key(user);
        let known = client
            .prepare_cached(
                "SELECT m.id, f.id FROM mailboxes m JOIN folders f ON f.mailbox = m.id
                 WHERE m.name = $1 AND f.name = $2",
            )
            .await
            .map_err(err)?;
        if let Some(row) = client
            .query_opt(&known, &[&mailbox, &folder])
            .await
            .map_err(err)?
        {
            return Ok((row.get(0), row.get(1)));
        }
        client
            .execute(
                "INSERT INTO mailboxes (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                &[&mailbox],
            )
            .await
            .map_err(err)?;
        let mailbox_id: i64 = client
            .query_one("SELECT id FROM mailboxes WHERE name = $1", &[&mailbox])
            .await
            .map_err(err)?
            .get(0);
        client
            .execute(
                "INSERT INTO folders (mailbox, name) VALUES ($1, $2)
                 ON CONFLICT (mailbox, name) DO NOTHING",
                &[&mailbox_id, &folder],
            )
            .await
            .map_err(err)?;
        let folder_id: i64 = client
            .query_one(
                "SELECT id FROM folders WHERE mailbox = $1 AND name = $2",
                &[&mailbox_id, &folder],
            )
            .await
            .map_err(err)?
            .get(0);
        Ok((mailbox_id, folder_id))
    }

    /// Stores `message` as a new row with its chunks (inside the caller's transaction);
    /// returns (message id, wire size, raw size). A message of one chunk (the usual case)
    /// is one statement; a longer one is a row, then a statement per chunk as it is read
    /// (never the whole message in memory), then its sizes.
    pub(crate) async fn insert_message(
        &self,
        client: &deadpool_postgres::Object,
        ids: (i64, i64),
        uidl: &str,
        delivered_at: Option<SystemTime>,
        next: &mut impl FnMut() -> io::Result<Vec<u8>>,
    ) -> Result<(i64, u64, u64), StoreError> {
        let err = |e: tokio_postgres::Error| self.db_error(&e);
        let (mailbox_id, folder_id) = ids;
        // None: the database's now() (the transaction's start), as before batching.
        let read = |next: &mut dyn FnMut() -> io::Result<Vec<u8>>| {
            next().map_err(|e| {
                StoreError::Invalid(format!("cannot read the message being delivered: {e}"))
            })
        };
        let first = read(next)?;
        let mut wire = WireSize::new();
        wire.update(&first);
        let mut raw = first.len() as u64;
        if first.len() < CHUNK_SIZE {
            let size = wire.finish();
            let stmt = client
                .prepare_cached(
                    "WITH m AS (
                         INSERT INTO messages (mailbox, folder, uidl, wire_size, raw_size, delivered_at)
                         VALUES ($1, $2, $3, $4, $5, COALESCE($6, now())) RETURNING id)
                     INSERT INTO message_chunks (message, seq, data)
                     SELECT id, 0, $7 FROM m RETURNING message",
                )
                .await
                .map_err(err)?;
            let row = client
                .query_one(
                    &stmt,
                    &[
                        &mailbox_id,
                        &folder_id,
                        &uidl,
                        &(size as i64),
                        &(raw as i64),
                        &delivered_at,
                        &first,
                    ],
                )
                .await
                .map_err(err)?;
            return Ok((row.get(0), size, raw));
        }
        let insert_row = client
            .prepare_cached(
                "INSERT INTO messages (mailbox, folder, uidl, wire_size, raw_size, delivered_at)
                 VALUES ($1, $2, $3, 0, 0, COALESCE($4, now())) RETURNING id",
            )
            .await
            .map_err(err)?;
        let id: i64 = client
            .query_one(
                &insert_row,
                &[&mailbox_id, &folder_id, &uidl, &delivered_at],
            )
            .await
            .map_err(err)?
            .get(0);
        let insert_chunk = client
            .prepare_cached("INSERT INTO message_chunks (message, seq, data) VALUES ($1, $2, $3)")
            .await
            .map_err(err)?;
        client
            .execute(&insert_chunk, &[&id, &0i32, &first])
            .await
            .map_err(err)?;
        drop(first);
        let mut seq: i32 = 1;
        // Bounded by the message's length: every turn stores a full chunk, or the last.
        loop {
            let chunk = read(next)?;
            if chunk.is_empty() {
                break;
            }
            wire.update(&chunk);
            raw += chunk.len() as u64;
            let last = chunk.len() < CHUNK_SIZE;
            client
                .execute(&insert_chunk, &[&id, &seq, &chunk])
                .await
                .map_err(err)?;
            seq += 1;
            if last {
                break;
            }
        }
        let size = wire.finish();
        let sizes = client
            .prepare_cached("UPDATE messages SET wire_size = $2, raw_size = $3 WHERE id = $1")
            .await
            .map_err(err)?;
        client
            .execute(&sizes, &[&id, &(size as i64), &(raw as i64)])
            .await
            .map_err(err)?;
        Ok((id, size, raw))
    }
}

/// Reads up to [`CHUNK_SIZE`] bytes: fewer only at the end of the message.
pub(crate) fn read_chunk(message: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; CHUNK_SIZE];
    let got = buzon_store::read_full(message, &mut buf)?;
    buf.truncate(got);
    Ok(buf)
}

impl DeliveryStore for PgStore {
    fn usage(&self, user: &str) -> Result<Usage, StoreError> {
        let mailbox = mailbox_key(user);
        self.block_on(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    "SELECT bytes, messages FROM mailboxes WHERE name = $1",
                    &[&mailbox],
                )
                .await
                .map_err(|e| self.db_error(&e))?;
            Ok(match row {
                Some(r) => Usage {
                    bytes: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
                    messages: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
                },
                None => Usage::default(),
            })
        })
    }

    fn begin(&self) -> Box<dyn DeliveryBatch + '_> {
        Box::new(PgBatch {
            store: self,
            client: None,
            copies: Vec::new(),
            failed: None,
        })
    }
}

/// One copy staged in the batch's transaction.
struct Copy {
    mailbox_id: i64,
    uidl: String,
    size: u64,
}

/// A transaction open from the first `add` to `commit`; dropped, it is rolled back.
struct PgBatch<'a> {
    store: &'a PgStore,
    client: Option<deadpool_postgres::Object>,
    copies: Vec<Copy>,
    /// Why an earlier `add` failed: the transaction cannot commit any more.
    failed: Option<String>,
}

impl PgBatch<'_> {
    fn add_inner(
        &mut self,
        user: &str,
        folder: Option<&str>,
        message: &mut dyn Read,
    ) -> Result<(), StoreError> {
        let folder = folder_key(folder)?;
        let store = self.store;
        if self.client.is_none() {
            let client = store.block_on(async {
                let client = store.client().await?;
                client
                    .batch_execute("BEGIN")
                    .await
                    .map_err(|e| store.db_error(&e))?;
                Ok::<_, StoreError>(client)
            })?;
            self.client = Some(client);
        }
        let Some(client) = &self.client else {
            return Err(StoreError::Unavailable("no database connection".into()));
        };
        let ids = store.block_on(store.ensure_folder(client, user, folder))?;
        let uidl = new_uidl();
        // The message is read by the thread blocking on the runtime (never on a
        // runtime worker), between the database round trips: a chunk is read, then stored.
        let mut next = || read_chunk(message);
        let result = store.block_on(store.insert_message(client, ids, &uidl, None, &mut next));
        let (_, size, _) = result?;
        self.copies.push(Copy {
            mailbox_id: ids.0,
            uidl,
            size,
        });
        Ok(())
    }
}

impl DeliveryBatch for PgBatch<'_> {
    fn add(
        &mut self,
        user: &str,
        folder: Option<&str>,
        message: &mut dyn Read,
    ) -> Result<(), StoreError> {
        if let Some(why) = &self.failed {
            return Err(StoreError::Unavailable(why.clone()));
        }
        let r = self.add_inner(user, folder, message);
        if let Err(e) = &r {
            if self.client.is_some() {
                self.failed = Some(format!("an earlier copy of this delivery failed: {e}"));
            }
        }
        r
    }

    fn commit(mut self: Box<Self>) -> Result<Vec<StoredCopy>, PartialCommit> {
        let fail = |error| PartialCommit {
            stored: Vec::new(),
            error,
        };
        if let Some(why) = self.failed.take() {
            return Err(fail(StoreError::Unavailable(why)));
        }
        let Some(client) = self.client.take() else {
            return Ok(Vec::new());
        };
        let store = self.store;
        let mut per_mailbox: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for c in &self.copies {
            let e = per_mailbox.entry(c.mailbox_id).or_default();
            e.0 += c.size as i64;
            e.1 += 1;
        }
        let result = store.block_on(async {
            // In id order, so that deliveries to overlapping recipients never deadlock.
            let add = client
                .prepare_cached(
                    "UPDATE mailboxes SET bytes = bytes + $2, messages = messages + $3 WHERE id = $1",
                )
                .await
                .map_err(|e| store.db_error(&e))?;
            for (id, (bytes, count)) in &per_mailbox {
                client
                    .execute(&add, &[id, bytes, count])
                    .await
                    .map_err(|e| store.db_error(&e))?;
            }
            client
                .batch_execute("COMMIT")
                .await
                .map_err(|e| store.db_error(&e))
        });
        match result {
            Ok(()) => Ok(self
                .copies
                .drain(..)
                .map(|c| StoredCopy {
                    uidl: c.uidl,
                    size: c.size,
                })
                .collect()),
            Err(error) => {
                rollback(store, client);
                Err(fail(error))
            }
        }
    }
}

/// Ends an unfinished transaction before the connection goes back to the pool; a
/// connection that cannot is closed instead.
pub(crate) fn rollback(store: &PgStore, client: deadpool_postgres::Object) {
    store.inner.runtime.spawn(async move {
        if client.batch_execute("ROLLBACK").await.is_err() {
            drop(deadpool_postgres::Object::take(client));
        }
    });
}

impl Drop for PgBatch<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            rollback(self.store, client);
        }
    }
}
