//! What `buzon migrate` needs: folders and messages listed per folder, bodies streamed,
//! and messages stored with a given UIDL and delivery time (idempotent, so a migration
//! killed half way resumes).

use std::time::SystemTime;

use buzon_store::StoreError;

use crate::delivery::{folder_key, rollback};
use crate::mailbox::PgMessageReader;
use crate::{mailbox_key, PgStore, CHUNK_SIZE};

/// One stored message, as listed for migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Key for [`PgStore::read_message`].
    pub id: i64,
    pub uidl: String,
    /// RFC 1939 exact size.
    pub size: u64,
    /// Octets of the message as stored.
    pub raw_size: u64,
    pub delivered_at: SystemTime,
}

fn valid_uidl(uidl: &str) -> bool {
    (1..=70).contains(&uidl.len()) && uidl.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

impl PgStore {
    /// `user`'s folders: `None` for INBOX first, then the others by name. Empty when the
    /// mailbox does not exist.
    pub async fn list_folders(&self, user: &str) -> Result<Vec<Option<String>>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT f.name FROM folders f JOIN mailboxes m ON m.id = f.mailbox
                 WHERE m.name = $1 ORDER BY f.name",
                &[&mailbox_key(user)],
            )
            .await
            .map_err(|e| self.db_error(&e))?;
        Ok(rows
            .iter()
            .map(|r| {
                let name: String = r.get(0);
                (!name.is_empty()).then_some(name)
            })
            .collect())
    }

    /// The messages of one folder (`None`: INBOX), oldest delivery first.
    pub async fn list_messages(
        &self,
        user: &str,
        folder: Option<&str>,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let folder = folder_key(folder)?;
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT s.id, s.uidl, s.wire_size, s.raw_size, s.delivered_at FROM messages s
                 JOIN folders f ON f.id = s.folder JOIN mailboxes m ON m.id = f.mailbox
                 WHERE m.name = $1 AND f.name = $2 ORDER BY s.delivered_at, s.id",
                &[&mailbox_key(user), &folder],
            )
            .await
            .map_err(|e| self.db_error(&e))?;
        Ok(rows
            .iter()
            .map(|r| StoredMessage {
                id: r.get(0),
                uidl: r.get(1),
                size: u64::try_from(r.get::<_, i64>(2)).unwrap_or(0),
                raw_size: u64::try_from(r.get::<_, i64>(3)).unwrap_or(0),
                delivered_at: r.get(4),
            })
            .collect())
    }

    /// Streams a listed message chunk by chunk (no POP3 lease involved).
    pub async fn read_message(&self, id: i64) -> Result<PgMessageReader, StoreError> {
        PgMessageReader::open_unleased(self.clone(), id).await
    }

    /// Stores `body` in `user`'s `folder` (`None`: INBOX) under the given UIDL and
    /// delivery time, creating mailbox and folder as needed, in one transaction. A
    /// message with that UIDL already in the mailbox is left alone: `Ok(false)` (a
    /// resumed migration). `Ok(true)` when stored.
    pub async fn import_message(
        &self,
        user: &str,
        folder: Option<&str>,
        uidl: &str,
        delivered_at: SystemTime,
        body: &[u8],
    ) -> Result<bool, StoreError> {
        if !valid_uidl(uidl) {
            return Err(StoreError::Invalid(format!(
                "invalid unique-id {uidl:?}: 1-70 characters 0x21-0x7E (RFC 1939 section 7)"
            )));
        }
        let folder = folder_key(folder)?;
        let err = |e: tokio_postgres::Error| self.db_error(&e);
        let client = self.client().await?;
        client.batch_execute("BEGIN").await.map_err(err)?;
        let stored = async {
            let ids = self.ensure_folder(&client, user, folder).await?;
            let exists = client
                .query_opt(
                    "SELECT id FROM messages WHERE mailbox = $1 AND uidl = $2",
                    &[&ids.0, &uidl],
                )
                .await
                .map_err(err)?;
            if exists.is_some() {
                return Ok(false);
            }
            let mut chunks = body.chunks(CHUNK_SIZE);
            let mut next = || Ok(chunks.next().map(<[u8]>::to_vec).unwrap_or_default());
            let (_, size, _) = self
                .insert_message(&client, ids, uidl, Some(delivered_at), &mut next)
                .await?;
            client
                .execute(
                    "UPDATE mailboxes SET bytes = bytes + $2, messages = messages + 1 WHERE id = $1",
                    &[&ids.0, &(size as i64)],
                )
                .await
                .map_err(err)?;
            Ok(true)
        }
        .await;
        match stored {
            Ok(stored) => {
                client.batch_execute("COMMIT").await.map_err(err)?;
                Ok(stored)
            }
            Err(e) => {
                rollback(self, client);
                Err(e)
            }
        }
    }
}
