//! App passwords and two-step verification secrets in the `credentials` table: one row
//! per user holding the same TOML document as the Maildir store's file, changed in one
//! transaction that locks the row, so nodes changing it at once never lose a change.

use buzon_auth::{AuthError, UserCredentials};
use buzon_store::StoreError;

use crate::PgStore;

fn key(user: &str) -> String {
    user.to_ascii_lowercase()
}

fn damaged(user: &str, why: &str) -> String {
    buzon_i18n::t!("credentials-damaged-row", user = user, reason = why)
}

impl PgStore {
    /// The user's credentials (empty when none are stored).
    pub async fn load_credentials(&self, user: &str) -> Result<UserCredentials, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT data FROM credentials WHERE name = $1",
                &[&key(user)],
            )
            .await
            .map_err(|e| self.db_error(&e))?;
        match row {
            None => Ok(UserCredentials::default()),
            Some(r) => UserCredentials::from_text(r.get(0))
                .map_err(|why| StoreError::Invalid(damaged(user, &why))),
        }
    }

    /// One read-modify-write of the user's credentials, holding the row's lock.
    pub async fn modify_credentials(
        &self,
        user: &str,
        change: &mut dyn FnMut(&mut UserCredentials) -> Result<(), AuthError>,
    ) -> Result<(), AuthError> {
        let fail = |e: StoreError| AuthError::Credentials(e.to_string());
        let mut client = self.client().await.map_err(fail)?;
        let err = |e: tokio_postgres::Error| AuthError::Credentials(self.db_error(&e).to_string());
        let tx = client.transaction().await.map_err(err)?;
        let k = key(user);
        // A row to lock even for a user who has none yet; '' reads as empty.
        tx.execute(
            "INSERT INTO credentials (name, data) VALUES ($1, '') ON CONFLICT (name) DO NOTHING",
            &[&k],
        )
        .await
        .map_err(err)?;
        let text: String = tx
            .query_one(
                "SELECT data FROM credentials WHERE name = $1 FOR UPDATE",
                &[&k],
            )
            .await
            .map_err(err)?
            .get(0);
        let mut creds = UserCredentials::from_text(&text)
            .map_err(|why| AuthError::Credentials(damaged(user, &why)))?;
        change(&mut creds)?;
        if creds.is_empty() {
            tx.execute("DELETE FROM credentials WHERE name = $1", &[&k])
                .await
                .map_err(err)?;
        } else {
            tx.execute(
                "UPDATE credentials SET data = $2 WHERE name = $1",
                &[&k, &creds.to_text(user)],
            )
            .await
            .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }
}
