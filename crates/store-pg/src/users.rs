//! Users in the database: the same stored password strings (`{SCHEME}hash`) and extra
//! fields as the users file, and a serial bumped by every change so that nodes reload
//! only when something changed.

use buzon_auth::{validate_username, UserEntry};
use buzon_store::StoreError;

use crate::PgStore;

/// Extra fields as the users file writes them: `key=value` pairs separated by spaces.
fn extra_to_text(extra: &[(String, String)]) -> String {
    buzon_auth::format_extra_fields(extra)
}

fn extra_from_text(text: &str) -> Vec<(String, String)> {
    text.split_whitespace()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.to_string(), String::new()),
        })
        .collect()
}

impl PgStore {
    /// The users serial: changes whenever a user is added, removed or changed.
    pub async fn users_serial(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT serial FROM users_serial WHERE id = 1", &[])
            .await
            .map_err(|e| self.db_error(&e))?;
        Ok(row.get(0))
    }

    /// Every user and the serial they belong to, read in one transaction.
    pub async fn user_snapshot(&self) -> Result<(i64, Vec<UserEntry>), StoreError> {
        let mut client = self.client().await?;
        let err = |e: tokio_postgres::Error| self.db_error(&e);
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(err)?;
        let serial: i64 = tx
            .query_one("SELECT serial FROM users_serial WHERE id = 1", &[])
            .await
            .map_err(err)?
            .get(0);
        let rows = tx
            .query(
                "SELECT name, password, extra, home FROM users ORDER BY name",
                &[],
            )
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        let users = rows
            .iter()
            .map(|r| UserEntry {
                name: r.get(0),
                password: r.get(1),
                extra: extra_from_text(r.get::<_, &str>(2)),
                home: r.get(3),
            })
            .collect();
        Ok((serial, users))
    }

    /// The user names, sorted.
    pub async fn list_users(&self) -> Result<Vec<String>, StoreError> {
        let (_, users) = self.user_snapshot().await?;
        Ok(users.into_iter().map(|u| u.name).collect())
    }

    /// Adds `user` with a stored password (`{SCHEME}hash`); refuses a name that exists
    /// (ignoring ASCII case).
    pub async fn add_user(&self, user: &str, stored_password: &str) -> Result<(), StoreError> {
        validate_username(user).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.change_users("INSERT INTO users (name, password) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&user, &stored_password])
        .await
        .and_then(|n| match n {
            1 => Ok(()),
            _ => Err(StoreError::Invalid(format!(
                "user {user} already exists (names are compared ignoring case); use `buzon user passwd` to change the password"
            ))),
        })
    }

    /// Replaces `user`'s stored password.
    pub async fn set_password(&self, user: &str, stored_password: &str) -> Result<(), StoreError> {
        let n = self
            .change_users(
                "UPDATE users SET password = $2 WHERE lower(name) = lower($1)",
                &[&user, &stored_password],
            )
            .await?;
        unknown_if_none(n, user)
    }

    /// Replaces `user`'s extra fields (such as `userdb_quota_rule`).
    pub async fn set_extra(
        &self,
        user: &str,
        extra: &[(String, String)],
    ) -> Result<(), StoreError> {
        let text = extra_to_text(extra);
        let n = self
            .change_users(
                "UPDATE users SET extra = $2 WHERE lower(name) = lower($1)",
                &[&user, &text],
            )
            .await?;
        unknown_if_none(n, user)
    }

    /// Removes `user` (the mailbox stays, as with the users file).
    pub async fn remove_user(&self, user: &str) -> Result<(), StoreError> {
        let n = self
            .change_users("DELETE FROM users WHERE lower(name) = lower($1)", &[&user])
            .await?;
        unknown_if_none(n, user)
    }

    /// Runs `sql` and bumps the serial in one transaction when it changed a row.
    async fn change_users(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let err = |e: tokio_postgres::Error| self.db_error(&e);
        let tx = client.transaction().await.map_err(err)?;
        let n = tx.execute(sql, params).await.map_err(|e| {
            if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
                StoreError::Invalid(
                    "a user of that name exists (names are compared ignoring case)".into(),
                )
            } else {
                err(e)
            }
        })?;
        if n > 0 {
            tx.execute(
                "UPDATE users_serial SET serial = serial + 1 WHERE id = 1",
                &[],
            )
            .await
            .map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        Ok(n)
    }
}

fn unknown_if_none(n: u64, user: &str) -> Result<(), StoreError> {
    if n == 0 {
        Err(StoreError::Invalid(format!(
            "no user {user}; `buzon user list` shows the users"
        )))
    } else {
        Ok(())
    }
}
