//! A real Buzón server on 127.0.0.1 (port 0) with a temporary data folder, running on its
//! own runtime thread so tests can use blocking clients. Dropping it shuts it down.
//!
//! The store comes from the environment: Maildir by default; with
//! `BUZON_TEST_STORE=postgres` and `BUZON_TEST_PG_URL` (set by `scripts/test`, which
//! keeps one cluster running for the whole run) every server gets a database of its own
//! in that cluster ([`crate::pg::TestDb`]). The helpers ([`TestServer::deliver`],
//! [`TestServer::stored`], [`TestServer::message_count`],
//! [`TestServer::wait_mailbox_free`]) work on either; the Maildir-file helpers are for
//! tests that are by nature about Maildir files, which say so with [`maildir_only`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use crate::certs::TestCa;
use crate::pg::TestDb;
use crate::store::TestStore;
use buzon_server::config::{Config, Listener, Protocol, TlsSource};

/// A user's name, stored password and extra fields.
type StoredUser = (String, String, Vec<(String, String)>);

/// A change to the server's configuration, applied before it starts.
type Tweak = Box<dyn FnOnce(&mut Config) + Send>;

/// Builds a [`TestServer`].
pub struct TestServerBuilder {
    users: Vec<(String, String)>,
    /// Users with their stored password (`{SCHEME}…`) and extra fields, as given.
    stored_users: Vec<StoredUser>,
    trust_loopback: bool,
    tweak: Vec<Tweak>,
}

/// A running test server.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub ca: TestCa,
    pub pop3: SocketAddr,
    pub pop3s: SocketAddr,
    /// Every bound listener (LMTP and SMTP ones too, when the config adds them).
    pub addrs: Vec<(Protocol, SocketAddr)>,
    pub config: Config,
    store: TestStore,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        Self {
            users: Vec::new(),
            stored_users: Vec::new(),
            trust_loopback: true,
            tweak: Vec::new(),
        }
    }
}

impl TestServerBuilder {
    /// Adds a user with an Argon2id password (fast test parameters).
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push((name.to_string(), password.to_string()));
        self
    }

    /// Adds a user with a stored password as in the users file (`{PLAIN}pw`, a hash).
    pub fn user_stored(mut self, name: &str, stored: &str) -> Self {
        self.stored_users
            .push((name.to_string(), stored.to_string(), Vec::new()));
        self
    }

    /// Adds a user from a users-file line (`name:{PLAIN}pw::::::key=value …`): into the
    /// file for Maildir, into the users table (extra fields included) for PostgreSQL.
    pub fn user_line(mut self, line: &str) -> Self {
        let fields: Vec<&str> = line.split(':').collect();
        // name:password:uid:gid:gecos:home:shell:extra (the extra may contain ':').
        let extra = fields.get(7..).map(|f| f.join(":")).unwrap_or_default();
        let extra = extra
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.stored_users.push((
            fields[0].to_string(),
            fields.get(1).copied().unwrap_or_default().to_string(),
            extra,
        ));
        self
    }

    /// Whether loopback counts as a network where plaintext logins are fine (the
    /// default). Turning it off makes 127.0.0.1 behave like the open Internet.
    pub fn trust_loopback(mut self, yes: bool) -> Self {
        self.trust_loopback = yes;
        self
    }

    /// Changes the configuration before the server starts.
    pub fn config(mut self, f: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.tweak.push(Box::new(f));
        self
    }

    pub fn start(self) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = TestCa::new();
        let cert = ca.issue(
            &dir.path().join("tls"),
            &["localhost", "127.0.0.1"],
            (-1, 30),
        );
        let mut config = Config::embedded_default(dir.path());
        config.hostname = "test.buzon.invalid".into();
        config.listeners = vec![
            Listener::new("127.0.0.1:0".parse().unwrap(), Protocol::Pop3),
            Listener::new("127.0.0.1:0".parse().unwrap(), Protocol::Pop3s),
        ];
        config.tls = TlsSource::Files {
            certificate: cert.cert_path,
            key: cert.key_path,
        };
        config.auth.hash = buzon_auth::HashParams::fast_for_tests();
        config.auth.throttle.failure_delay = Duration::from_millis(50);
        config.auth.throttle.penalty_base = Duration::from_millis(50);
        config.auth.throttle.penalty_max = Duration::from_millis(200);
        if !self.trust_loopback {
            config.auth.plaintext_networks.clear();
        }
        let store = match crate::pg::run_cluster_url() {
            Some(url) => TestStore::postgres(&url),
            None => TestStore::maildir(&config.mail_dir, &config.auth.users_file),
        };
        for (name, pw) in &self.users {
            let stored = buzon_auth::hash_password(pw.as_bytes(), &config.auth.hash);
            store.add_user(name, &stored, &[]);
        }
        for (name, stored, extra) in &self.stored_users {
            store.add_user(name, stored, extra);
        }
        config.store = store.settings();
        for t in self.tweak {
            t(&mut config);
        }
        TestServer::run(dir, ca, config, store)
    }
}

impl TestServer {
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    fn run(dir: tempfile::TempDir, ca: TestCa, config: Config, store: TestStore) -> TestServer {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let cfg = config.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let server = match buzon_server::start(cfg).await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = addr_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = addr_tx.send(Ok((
                    server.addr(Protocol::Pop3),
                    server.addr(Protocol::Pop3s),
                    server.local_addrs().to_vec(),
                )));
                let _ = stop_rx.await;
                server.shutdown(Duration::from_secs(5)).await;
            });
        });
        let (pop3, pop3s, addrs) = match addr_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok((Some(a), Some(b), all))) => (a, b, all),
            Ok(Ok(_)) => panic!("test server has no POP3/POP3S listener"),
            Ok(Err(e)) => panic!("test server failed to start: {e}"),
            Err(e) => panic!("test server did not start: {e}"),
        };
        TestServer {
            dir,
            ca,
            pop3,
            pop3s,
            addrs,
            config,
            store,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// The first listener of a protocol (panics if the config has none).
    pub fn addr(&self, protocol: Protocol) -> SocketAddr {
        self.addrs
            .iter()
            .find(|(p, _)| *p == protocol)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no {protocol:?} listener in {:?}", self.addrs))
    }

    /// The Maildir of a user (created on demand).
    pub fn maildir(&self, user: &str) -> buzon_store::Maildir {
        buzon_store::Maildir::create(self.mailbox_path(user)).expect("maildir")
    }

    pub fn mailbox_path(&self, user: &str) -> PathBuf {
        self.config
            .mail_dir
            .join(buzon_auth::mailbox_dir_name(user))
    }

    /// Delivers a message into a user's INBOX, through the store in use (for
    /// PostgreSQL `file_name` is empty).
    pub fn deliver(&self, user: &str, message: &[u8]) -> buzon_store::Delivered {
        self.store.deliver(user, message)
    }

    /// Adds a user while the server runs (stored password as in the users file), to the
    /// store's users: the file or the users table.
    pub fn add_user(&self, name: &str, stored: &str) {
        self.store.add_user(name, stored, &[]);
    }

    /// True when this server uses the PostgreSQL store.
    pub fn is_postgres(&self) -> bool {
        self.store.is_postgres()
    }

    /// The test database (PostgreSQL store only).
    pub fn test_db(&self) -> Option<&TestDb> {
        self.store.db()
    }

    /// The messages in a user's INBOX (`None`) or folder, whole, sorted by content.
    pub fn stored(&self, user: &str, folder: Option<&str>) -> Vec<Vec<u8>> {
        self.store.stored(user, folder)
    }

    /// Messages in a user's INBOX.
    pub fn message_count(&self, user: &str) -> usize {
        self.store.message_count(user)
    }

    /// Writes a message file directly (for odd names and content no delivery would make).
    pub fn put_raw(&self, user: &str, sub: &str, name: &str, content: &[u8]) -> PathBuf {
        let p = self.maildir(user).root().join(sub).join(name);
        std::fs::write(&p, content).expect("write");
        p
    }

    /// Message files currently in a user's Maildir (cur/ and new/).
    pub fn message_files(&self, user: &str) -> Vec<PathBuf> {
        let root = self.mailbox_path(user);
        let mut v = Vec::new();
        for sub in ["cur", "new"] {
            if let Ok(rd) = std::fs::read_dir(root.join(sub)) {
                v.extend(rd.filter_map(Result::ok).map(|e| e.path()));
            }
        }
        v.sort();
        v
    }

    /// Waits (at most 30 s) until no POP3 session holds `user`'s mailbox: its lock can be
    /// taken (and is released at once). A session's changes are committed, or dropped,
    /// before its lock goes, so what the Maildir holds afterwards is final; this replaces
    /// sleeping after a client went away before asserting that nothing was deleted.
    #[track_caller]
    pub fn wait_mailbox_free(&self, user: &str) {
        self.store.wait_mailbox_free(user);
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Shuts the server down and waits for it.
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}
