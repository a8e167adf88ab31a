//! The store of a test, chosen by the run: local Maildirs (default) or, with
//! `BUZON_TEST_STORE=postgres` and `BUZON_TEST_PG_URL`, a database of its own in the
//! run's PostgreSQL cluster ([`crate::pg::TestDb`]). The same helpers work on either:
//! add users, deliver, read what is stored, wait for a mailbox's lock or lease to go.
//! [`crate::TestServer`] and the tests of the real `buzon` process use it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use buzon_store::{DeliveryStore, PgSettings, StoreSettings};

use crate::pg::TestDb;

/// The PostgreSQL lease of the nodes that [`TestStore::config_toml`] configures.
pub const TEST_LOCK_LEASE: Duration = Duration::from_secs(5);

/// True when this run's tests use the PostgreSQL store.
pub fn testing_postgres() -> bool {
    crate::pg::run_cluster_url().is_some()
}

/// For a test that is by nature about Maildir files (names, permissions, `tmp/`, the
/// users file): true when this run uses the PostgreSQL store, after printing a note that
/// names the test and why, so the test returns early visibly instead of silently.
pub fn maildir_only(test: &str, why: &str) -> bool {
    if testing_postgres() {
        eprintln!("NOTE: {test} is Maildir-only ({why}); not run against PostgreSQL");
        return true;
    }
    false
}

/// The PostgreSQL side: its own database and a store client on a runtime of its own
/// (its `DeliveryStore` calls block on it, so call them from test threads).
struct PgSide {
    store: buzon_store_pg::PgStore,
    db: TestDb,
    runtime: tokio::runtime::Runtime,
}

enum Kind {
    Maildir {
        mail_dir: PathBuf,
        users_file: PathBuf,
    },
    Postgres(PgSide),
}

/// A test's store (see the module documentation).
pub struct TestStore {
    kind: Kind,
}

impl TestStore {
    /// The run's store for a node whose data folder is `data_dir` (Maildirs in
    /// `data_dir/mail`, users in `data_dir/users`, as the embedded default).
    pub fn for_run(data_dir: &Path) -> TestStore {
        match crate::pg::run_cluster_url() {
            Some(url) => TestStore::postgres(&url),
            None => TestStore::maildir(&data_dir.join("mail"), &data_dir.join("users")),
        }
    }

    pub fn maildir(mail_dir: &Path, users_file: &Path) -> TestStore {
        TestStore {
            kind: Kind::Maildir {
                mail_dir: mail_dir.to_path_buf(),
                users_file: users_file.to_path_buf(),
            },
        }
    }

    /// A new database in the cluster whose `buzon` database `admin_url` names, with the
    /// schema applied.
    pub fn postgres(admin_url: &str) -> TestStore {
        let db = TestDb::create(admin_url).expect("test database");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let store = runtime
            .block_on(buzon_store_pg::PgStore::connect(&db.settings()))
            .expect("connect to the test database");
        TestStore {
            kind: Kind::Postgres(PgSide { store, db, runtime }),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.kind, Kind::Postgres(_))
    }

    /// The test database (PostgreSQL only).
    pub fn db(&self) -> Option<&TestDb> {
        match &self.kind {
            Kind::Postgres(p) => Some(&p.db),
            Kind::Maildir { .. } => None,
        }
    }

    /// The `[store]` settings a node uses for this store.
    pub fn settings(&self) -> StoreSettings {
        match &self.kind {
            Kind::Postgres(p) => StoreSettings::Postgres(p.db.settings()),
            Kind::Maildir { .. } => StoreSettings::Maildir,
        }
    }

    /// The `[store]` section of a config file for this store (empty for Maildir); the
    /// password goes to a file in `dir`. The lease is the shortest allowed,
    /// [`TEST_LOCK_LEASE`], so that tests of killed nodes wait seconds, not a minute.
    pub fn config_toml(&self, dir: &Path) -> String {
        let Kind::Postgres(p) = &self.kind else {
            return String::new();
        };
        let settings: PgSettings = p.db.settings();
        let pw = dir.join("db-password");
        std::fs::write(&pw, format!("{}\n", crate::pg::PG_PASSWORD)).expect("password file");
        format!(
            "\n[store]\nkind = \"postgres\"\nurl = {:?}\npassword_file = {:?}\npool_size = {}\nlock_lease = \"{}s\"\n",
            settings.url,
            pw,
            settings.pool_size,
            TEST_LOCK_LEASE.as_secs()
        )
    }

    /// Adds a user with a stored password as in the users file (`{PLAIN}pw`, a hash) and
    /// extra fields (`userdb_quota_rule`, …).
    pub fn add_user(&self, name: &str, stored: &str, extra: &[(String, String)]) {
        match &self.kind {
            Kind::Postgres(p) => p
                .runtime
                .block_on(async {
                    p.store.add_user(name, stored).await?;
                    if !extra.is_empty() {
                        p.store.set_extra(name, extra).await?;
                    }
                    Ok::<_, buzon_store::StoreError>(())
                })
                .expect("add user"),
            Kind::Maildir { users_file, .. } if extra.is_empty() => {
                if let Some(parent) = users_file.parent() {
                    std::fs::create_dir_all(parent).expect("users folder");
                }
                buzon_auth::add_user(users_file, name, stored).expect("add user")
            }
            Kind::Maildir { users_file, .. } => {
                use std::io::Write;
                let extra: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(users_file)
                    .expect("users file");
                writeln!(f, "{name}:{stored}::::::{}", extra.join(" ")).expect("add user");
            }
        }
    }

    /// Delivers a message into a user's INBOX (for PostgreSQL `file_name` is empty).
    pub fn deliver(&self, user: &str, message: &[u8]) -> buzon_store::Delivered {
        let mut r = message;
        match &self.kind {
            Kind::Maildir { mail_dir, .. } => {
                buzon_store::Maildir::create(mail_dir.join(buzon_auth::mailbox_dir_name(user)))
                    .expect("maildir")
                    .deliver(&mut r, None)
                    .expect("deliver")
            }
            Kind::Postgres(p) => {
                let mut batch = p.store.begin();
                batch.add(user, None, &mut r).expect("deliver");
                let copy = batch
                    .commit()
                    .map_err(|e| e.error)
                    .expect("commit the delivery")
                    .pop()
                    .expect("one copy");
                buzon_store::Delivered {
                    file_name: String::new(),
                    uidl: copy.uidl,
                    size: copy.size,
                }
            }
        }
    }

    /// The messages in a user's INBOX (`None`) or folder, whole, sorted by content.
    pub fn stored(&self, user: &str, folder: Option<&str>) -> Vec<Vec<u8>> {
        match &self.kind {
            Kind::Maildir { mail_dir, .. } => {
                let mut root = mail_dir.join(buzon_auth::mailbox_dir_name(user));
                if let Some(f) = folder {
                    root = root.join(format!(".{f}"));
                }
                crate::maildir::messages(&root)
            }
            Kind::Postgres(p) => {
                let name = sql_text(&buzon_auth::mailbox_dir_name(user));
                let folder = sql_text(folder.unwrap_or(""));
                // Every row starts with "x", so an empty message is a row too.
                let rows = p
                    .db
                    .sql(&format!(
                        "SELECT 'x' || encode(coalesce(string_agg(c.data, ''::bytea ORDER BY c.seq), ''::bytea), 'hex') \
                         FROM messages m JOIN mailboxes b ON b.id = m.mailbox \
                         JOIN folders f ON f.id = m.folder \
                         LEFT JOIN message_chunks c ON c.message = m.id \
                         WHERE b.name = {name} AND f.name = {folder} GROUP BY m.id"
                    ))
                    .expect("read the messages");
                let mut v: Vec<Vec<u8>> = rows
                    .lines()
                    .filter_map(|l| l.strip_prefix('x'))
                    .map(unhex)
                    .collect();
                v.sort();
                v
            }
        }
    }

    /// Messages in a user's INBOX.
    pub fn message_count(&self, user: &str) -> usize {
        match &self.kind {
            Kind::Maildir { .. } => self.stored(user, None).len(),
            Kind::Postgres(p) => {
                let name = sql_text(&buzon_auth::mailbox_dir_name(user));
                p.db.sql(&format!(
                    "SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox \
                     JOIN folders f ON f.id = m.folder WHERE b.name = {name} AND f.name = ''"
                ))
                .expect("count the messages")
                .trim()
                .parse()
                .expect("a count")
            }
        }
    }

    /// Waits (at most 30 s) until no POP3 session holds `user`'s mailbox: its lock can be
    /// taken (Maildir) or no unexpired lease row names it (PostgreSQL). A session's
    /// changes are committed, or dropped, before its lock goes.
    #[track_caller]
    pub fn wait_mailbox_free(&self, user: &str) {
        match &self.kind {
            Kind::Maildir { mail_dir, .. } => {
                let md =
                    buzon_store::Maildir::create(mail_dir.join(buzon_auth::mailbox_dir_name(user)))
                        .expect("maildir");
                crate::wait_until(
                    Duration::from_secs(30),
                    &format!("the POP3 session of {user} to end and release the mailbox"),
                    || md.open_session().is_ok(),
                );
            }
            Kind::Postgres(p) => {
                let name = sql_text(&buzon_auth::mailbox_dir_name(user));
                crate::wait_until(
                    Duration::from_secs(30),
                    &format!("the POP3 session of {user} to end and release the lease"),
                    || {
                        p.db.sql(&format!(
                            "SELECT count(*) FROM leases WHERE mailbox = {name} AND expires_at > now()"
                        ))
                        .map(|n| n.trim() == "0")
                        .unwrap_or(false)
                    },
                );
            }
        }
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        // The store client's connections close before its database is dropped.
        let kind = std::mem::replace(
            &mut self.kind,
            Kind::Maildir {
                mail_dir: PathBuf::new(),
                users_file: PathBuf::new(),
            },
        );
        if let Kind::Postgres(PgSide { store, db, runtime }) = kind {
            drop(store);
            runtime.shutdown_timeout(Duration::from_secs(5));
            drop(db);
        }
    }
}

/// A SQL string literal.
fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn unhex(s: &str) -> Vec<u8> {
    let v = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => 0,
    };
    s.trim()
        .as_bytes()
        .chunks(2)
        .filter(|p| p.len() == 2)
        .map(|p| (v(p[0]) << 4) | v(p[1]))
        .collect()
}
