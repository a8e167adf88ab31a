//! The one place where the configured store is opened: local Maildirs with the users
//! file, or the PostgreSQL store shared by every node with its users table. POP3
//! sessions, the intake, `buzon deliver` and `buzon user` all start here.

use buzon_store::{UidlSource, UidlSourceOf};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use buzon_auth::{
    AuthError, CredentialStore, CredentialsDir, UserCredentials, UserDb, UserDirectory, UsersFile,
};
use buzon_store::{DeliveryStore, MailStore, StoreSettings};
use buzon_store_pg::PgStore;

use crate::{Config, ServerError};

/// The stores a node serves from.
#[derive(Clone)]
pub struct Stores {
    /// Where POP3 sessions find their mailboxes.
    pub mail: Arc<dyn MailStore>,
    /// Where deliveries go. For PostgreSQL its calls block on the runtime the store was
    /// opened in: call them on blocking threads only.
    pub delivery: Arc<dyn DeliveryStore>,
    /// Where the users come from.
    pub users: Arc<dyn UserDirectory>,
    /// App passwords and two-step verification secrets.
    pub credentials: Arc<dyn CredentialStore>,
    /// The PostgreSQL store, when that is the one in use (health checks, `buzon user`).
    pub pg: Option<PgStore>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("users", &self.users.describe())
            .finish_non_exhaustive()
    }
}

/// Opens the store the configuration names. Inside a multi-threaded tokio runtime (the
/// PostgreSQL store keeps its handle). For Maildir: loads the users file (the server
/// creates the mail folder, see [`create_mail_dir`]). For PostgreSQL: connects (schema applied or checked) and loads the
/// users; any problem is one line naming the database URL and the fix.
pub async fn open_stores(config: &Config) -> Result<Stores, ServerError> {
    match &config.store {
        StoreSettings::Maildir => {
            let users = Arc::new(UsersFile::load(&config.auth.users_file)?);
            let maildirs = Arc::new(
                buzon_store::MaildirStore::new(
                    config.mail_dir.clone(),
                    config.pop3.serve_folders.clone(),
                    buzon_auth::mailbox_dir_name,
                )
                .with_uidl_source(config.pop3.uidl_source.clone())
                .with_uidl_source_of(uidl_source_of(
                    Arc::clone(&users) as Arc<dyn UserDirectory>,
                    config.pop3.uidl_source.clone(),
                )),
            );
            Ok(Stores {
                mail: Arc::clone(&maildirs) as _,
                delivery: maildirs,
                users,
                credentials: Arc::new(CredentialsDir::new(config.auth.credentials_dir.clone())),
                pg: None,
            })
        }
        StoreSettings::Postgres(settings) => {
            let pg = PgStore::connect_serving(settings, config.pop3.serve_folders.clone())
                .await
                .map_err(|e| ServerError::Store(e.to_string()))?;
            let users = PgUsers::load(pg.clone())
                .await
                .map_err(ServerError::Store)?;
            Ok(Stores {
                mail: Arc::new(pg.clone()),
                delivery: Arc::new(pg.clone()),
                users: Arc::new(users),
                credentials: Arc::new(PgCredentials::new(pg.clone())),
                pg: Some(pg),
            })
        }
    }
}

/// A user's own UIDL source, from the users file's extra fields, as Dovecot lets userdb
/// fields override settings per user: `userdb_uidl_source=buzon|dovecot|courier|auto`,
/// with `userdb_dovecot_uidl_format=…` (else the server's format). A value that cannot be
/// used is logged and the server's setting applies.
fn uidl_source_of(users: Arc<dyn UserDirectory>, server: UidlSource) -> UidlSourceOf {
    UidlSourceOf(Arc::new(move |user: &str| {
        let db = users.current();
        let entry = db.lookup(user)?;
        let wanted = entry.extra_field("userdb_uidl_source")?;
        let format = match entry.extra_field("userdb_dovecot_uidl_format") {
            Some(f) => {
                match buzon_store::UidlFormat::parse(f) {
                    Ok(f) => f,
                    Err(why) => {
                        tracing::warn!(user, "userdb_dovecot_uidl_format {f:?}: {why}; using the server's uidl_source");
                        return None;
                    }
                }
            }
            None => match &server {
                UidlSource::Dovecot(f) | UidlSource::Auto(f) => f.clone(),
                _ => buzon_store::UidlFormat::default(),
            },
        };
        match wanted {
            "buzon" => Some(UidlSource::Buzon),
            "dovecot" => Some(UidlSource::Dovecot(format)),
            "courier" => Some(UidlSource::Courier),
            "auto" => Some(UidlSource::Auto(format)),
            other => {
                tracing::warn!(user, "userdb_uidl_source {other:?} is not buzon, dovecot, courier or auto; using the server's uidl_source");
                None
            }
        }
    }))
}

/// The longest a look at the users table may take (the health check's own deadline).
const USERS_QUERY_DEADLINE: Duration = crate::health::PING_TIMEOUT;

/// The users table of the PostgreSQL store: `users_serial` is polled (one row) and the
/// list reloaded only when it moved; while the database cannot be reached the previous
/// list stays in memory and the failure is logged once.
pub struct PgUsers {
    store: PgStore,
    runtime: tokio::runtime::Handle,
    db: RwLock<Arc<UserDb>>,
    serial: Mutex<i64>,
    down: AtomicBool,
}

impl PgUsers {
    /// Loads the users (inside the runtime the store was connected in).
    pub async fn load(store: PgStore) -> Result<PgUsers, String> {
        let (serial, entries) = store.user_snapshot().await.map_err(|e| e.to_string())?;
        let db = UserDb::from_entries(Path::new(store.display_url()), entries)
            .map_err(|e| e.to_string())?;
        Ok(PgUsers {
            store,
            runtime: tokio::runtime::Handle::current(),
            db: RwLock::new(Arc::new(db)),
            serial: Mutex::new(serial),
            down: AtomicBool::new(false),
        })
    }

    /// Runs a query of the users table within [`USERS_QUERY_DEADLINE`]: a database that
    /// went silent (a network split: nothing refused, nothing answered) makes a login a
    /// temporary failure, rather than holding it, and every login queued behind it, until
    /// the connection breaks.
    fn bounded<T>(
        &self,
        query: impl std::future::Future<Output = Result<T, buzon_store::StoreError>>,
    ) -> Result<T, buzon_store::StoreError> {
        // The timer is made inside the runtime: callers such as `buzon deliver` run this
        // on a thread outside it.
        self.runtime
            .block_on(async { tokio::time::timeout(USERS_QUERY_DEADLINE, query).await })
            .unwrap_or_else(|_| {
                Err(buzon_store::StoreError::Unavailable(format!(
                    "the PostgreSQL database at {} did not answer within {} s",
                    self.store.display_url(),
                    USERS_QUERY_DEADLINE.as_secs()
                )))
            })
    }

    fn unreachable(&self, e: &buzon_store::StoreError) -> String {
        let why = e.to_string();
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::error!("cannot look for changed users, keeping the list in memory until the database answers: {why}");
        }
        why
    }
}

impl UserDirectory for PgUsers {
    fn current(&self) -> Arc<UserDb> {
        match self.db.read() {
            Ok(d) => Arc::clone(&d),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    fn refresh(&self) -> Result<(), String> {
        // One look at a time; a second caller waits and then finds nothing to do.
        let mut known = self.serial.lock().unwrap_or_else(|p| p.into_inner());
        let serial = match self.bounded(self.store.users_serial()) {
            Ok(s) => s,
            Err(e) => return Err(self.unreachable(&e)),
        };
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!(url = self.store.display_url(), "the database answers again");
        }
        if serial == *known {
            return Ok(());
        }
        let (serial, entries) = match self.bounded(self.store.user_snapshot()) {
            Ok(s) => s,
            Err(e) => return Err(self.unreachable(&e)),
        };
        match UserDb::from_entries(Path::new(self.store.display_url()), entries) {
            Ok(db) => {
                let users = db.len();
                match self.db.write() {
                    Ok(mut w) => *w = Arc::new(db),
                    Err(p) => *p.into_inner() = Arc::new(db),
                }
                tracing::info!(users, "reloaded the users from the database");
            }
            // Cannot happen with the table's constraints; keep the previous list.
            Err(e) => {
                tracing::error!("cannot use the changed users, keeping the previous list: {e}")
            }
        }
        *known = serial;
        Ok(())
    }

    fn describe(&self) -> String {
        self.store.display_url().to_string()
    }
}

/// The `credentials` table of the PostgreSQL store, for blocking callers (logins on
/// blocking threads, `buzon user`): each call runs on the runtime the store was opened in,
/// within [`USERS_QUERY_DEADLINE`].
pub struct PgCredentials {
    store: PgStore,
    runtime: tokio::runtime::Handle,
}

impl PgCredentials {
    /// Inside the runtime the store was connected in.
    pub fn new(store: PgStore) -> PgCredentials {
        PgCredentials {
            store,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    fn late(&self) -> String {
        format!(
            "the PostgreSQL database at {} did not answer within {} s",
            self.store.display_url(),
            USERS_QUERY_DEADLINE.as_secs()
        )
    }
}

impl CredentialStore for PgCredentials {
    fn load(&self, user: &str) -> Result<UserCredentials, String> {
        self.runtime
            .block_on(async {
                tokio::time::timeout(USERS_QUERY_DEADLINE, self.store.load_credentials(user)).await
            })
            .map_err(|_| self.late())?
            .map_err(|e| e.to_string())
    }

    fn modify(
        &self,
        user: &str,
        change: &mut dyn FnMut(&mut UserCredentials) -> Result<(), AuthError>,
    ) -> Result<(), AuthError> {
        self.runtime
            .block_on(async {
                tokio::time::timeout(
                    USERS_QUERY_DEADLINE,
                    self.store.modify_credentials(user, change),
                )
                .await
            })
            .map_err(|_| AuthError::Credentials(self.late()))?
    }

    fn describe(&self) -> String {
        self.store.display_url().to_string()
    }
}

/// Changes to a user's entry made by the server itself (the account pages): the users
/// file on one machine, the users table with PostgreSQL.
#[derive(Clone)]
pub enum UserEditor {
    File(std::path::PathBuf),
    Pg(PgStore),
}

impl std::fmt::Debug for UserEditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserEditor::File(p) => write!(f, "UserEditor::File({})", p.display()),
            UserEditor::Pg(s) => write!(f, "UserEditor::Pg({})", s.display_url()),
        }
    }
}

impl UserEditor {
    /// The editor of the configured store.
    pub fn of(config: &Config, stores: &Stores) -> UserEditor {
        match &stores.pg {
            Some(pg) => UserEditor::Pg(pg.clone()),
            None => UserEditor::File(config.auth.users_file.clone()),
        }
    }

    /// Sets a user's stored password (`{SCHEME}…`).
    pub async fn set_password(&self, user: &str, stored: &str) -> Result<(), String> {
        match self {
            UserEditor::File(path) => {
                let (path, user, stored) = (path.clone(), user.to_string(), stored.to_string());
                tokio::task::spawn_blocking(move || {
                    buzon_auth::set_password(&path, &user, &stored).map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| e.to_string())?
            }
            UserEditor::Pg(store) => store
                .set_password(user, stored)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Adds a user with a stored password.
    pub async fn add_user(&self, user: &str, stored: &str) -> Result<(), String> {
        match self {
            UserEditor::File(path) => {
                let (path, user, stored) = (path.clone(), user.to_string(), stored.to_string());
                tokio::task::spawn_blocking(move || {
                    buzon_auth::add_user(&path, &user, &stored).map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| e.to_string())?
            }
            UserEditor::Pg(store) => store
                .add_user(user, stored)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Sets (`Some`) or removes the extra field `key` of `entry`'s user.
    pub async fn set_extra_field(
        &self,
        entry: &buzon_auth::UserEntry,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), String> {
        match self {
            UserEditor::File(path) => {
                let (path, name, key) = (path.clone(), entry.name.clone(), key.to_string());
                let value = value.map(str::to_string);
                tokio::task::spawn_blocking(move || {
                    buzon_auth::set_extra_field(&path, &name, &key, value.as_deref())
                        .map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| e.to_string())?
            }
            UserEditor::Pg(store) => {
                let mut extra: Vec<(String, String)> = entry
                    .extra
                    .iter()
                    .filter(|(k, _)| k != key)
                    .cloned()
                    .collect();
                if let Some(v) = value {
                    extra.push((key.to_string(), v.to_string()));
                }
                store
                    .set_extra(&entry.name, &extra)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// Creates the folder of the local Maildirs (mode 0700) when the Maildir store is in use.
pub fn create_mail_dir(config: &Config) -> Result<(), ServerError> {
    use std::os::unix::fs::DirBuilderExt;
    if config.store != StoreSettings::Maildir {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.mail_dir)
        .map_err(|source| ServerError::MailDir {
            path: config.mail_dir.clone(),
            source,
        })
}
