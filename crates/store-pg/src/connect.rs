//! Connecting: the pool, TLS to the database, errors a person can act on, and the schema.

use std::sync::Arc;
use std::time::Duration;

use buzon_store::{PgSettings, StoreError};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;

use crate::{Inner, PgStore};

/// The schema files, in order: version `i + 1` is `MIGRATIONS[i]`.
const MIGRATIONS: &[&str] = &[
    include_str!("../schema/0001_init.sql"),
    include_str!("../schema/0002_chunks_uncompressed.sql"),
    include_str!("../schema/0003_credentials.sql"),
];

/// The newest schema version this binary knows (and brings databases up to).
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

pub(crate) async fn connect(
    settings: &PgSettings,
    serve_folders: Vec<String>,
) -> Result<PgStore, StoreError> {
    let url = settings.display_url();
    let mut config: tokio_postgres::Config = settings.url.parse().map_err(|e| {
        StoreError::Invalid(format!(
            "[store] url {url} is not a valid PostgreSQL URL ({e}); write it as postgresql://user@host:port/database"
        ))
    })?;
    if let Some(password) = &settings.password {
        config.password(password.as_bytes());
    }
    config.connect_timeout(settings.connect_timeout);
    // A connection to a database that vanished (network split) fails instead of waiting
    // for the kernel's retransmissions for many minutes.
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(10));
    config.tcp_user_timeout(settings.lock_lease.max(Duration::from_secs(1)));
    config.application_name("buzon");
    let user = config.get_user().unwrap_or("(the login user)").to_string();

    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match config.get_ssl_mode() {
        SslMode::Disable | SslMode::Prefer => {
            // Prefer without a certificate check is no protection; TLS is what
            // sslmode=require asks for, and then the certificate is verified.
            config.ssl_mode(SslMode::Disable);
            Manager::from_config(config, tokio_postgres::NoTls, manager_config)
        }
        _ => {
            let tls = tls_connector(settings)?;
            Manager::from_config(config, tls, manager_config)
        }
    };
    let pool = Pool::builder(manager)
        .max_size(settings.pool_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(settings.connect_timeout))
        .create_timeout(Some(settings.connect_timeout))
        .recycle_timeout(Some(settings.connect_timeout))
        .build()
        .map_err(|e| StoreError::Invalid(format!("cannot set up the pool for {url}: {e}")))?;

    let mut client = pool
        .get()
        .await
        .map_err(|e| connect_error(&e, &url, &user, settings))?;
    migrate_schema(&mut client, &url).await?;
    drop(client);

    Ok(PgStore {
        inner: Arc::new(Inner {
            pool,
            url,
            lock_lease: settings.lock_lease,
            node: node_name(),
            serve_folders,
            runtime: tokio::runtime::Handle::current(),
        }),
    })
}

/// Rustls (ring) with the CA file of the settings, or the system's roots.
fn tls_connector(
    settings: &PgSettings,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match &settings.ca_file {
        Some(path) => {
            let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    StoreError::Invalid(format!(
                        "cannot read the database CA certificates from {}: {e}; fix [store] ca_file",
                        path.display()
                    ))
                })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(StoreError::Invalid(format!(
                    "{} holds no usable CA certificate; fix [store] ca_file",
                    path.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(StoreError::Invalid(
                    "no system CA certificates found to verify the database; set [store] ca_file"
                        .to_string(),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Invalid(format!("TLS set-up for the database failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// `host/pid`, the node's part of lease holders (shown to operators in `leases`).
fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_string());
    format!("{host}/{}", std::process::id())
}

/// A first connection that failed, as one line naming the URL and the fix.
fn connect_error(e: &PoolError, url: &str, user: &str, settings: &PgSettings) -> StoreError {
    let backend = match e {
        PoolError::Backend(b) => b,
        PoolError::Timeout(_) => {
            return StoreError::Unavailable(format!(
                "no answer from the PostgreSQL database at {url} within {} s; check that it runs and that this node can reach it",
                settings.connect_timeout.as_secs_f32()
            ))
        }
        other => {
            return StoreError::Unavailable(format!(
                "cannot connect to the PostgreSQL database at {url}: {}",
                one_line(&other.to_string())
            ))
        }
    };
    if let Some(code) = backend.code() {
        if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            let from = settings
                .password_source
                .as_deref()
                .map(|s| format!(" (password from {s})"))
                .unwrap_or_default();
            return StoreError::Invalid(format!(
                "the PostgreSQL database at {url} refused the login of user {user}{from}: {}; set the right password ([store] password_file or password_env) or create the role",
                describe_db_error(backend)
            ));
        }
        if *code == SqlState::INVALID_CATALOG_NAME {
            return StoreError::Invalid(format!(
                "the database named in {url} does not exist: {}; create it (createdb -O {user} <name>) or fix the name in [store] url",
                describe_db_error(backend)
            ));
        }
    }
    if let Some(io) = io_cause(backend) {
        if io.kind() == std::io::ErrorKind::ConnectionRefused {
            return StoreError::Unavailable(format!(
                "cannot connect to the PostgreSQL database at {url}: connection refused; start the database, or fix the host and port in [store] url"
            ));
        }
    }
    let text = describe_db_error(backend);
    if text.contains("TLS handshake") {
        return if text.contains("certificate") {
            StoreError::Invalid(format!(
                "the PostgreSQL database at {url} showed a certificate this node does not trust ({text}); set [store] ca_file to the CA that signed it"
            ))
        } else {
            StoreError::Invalid(format!(
                "TLS to the PostgreSQL database at {url} failed ({text}); turn TLS on in the database (ssl = on) or remove sslmode=require from [store] url"
            ))
        };
    }
    if text.contains("password missing") {
        return StoreError::Invalid(format!(
            "the PostgreSQL database at {url} asks user {user} for a password and none is set; set [store] password_file or password_env"
        ));
    }
    StoreError::Unavailable(format!(
        "cannot connect to the PostgreSQL database at {url}: {}; check that it runs and that [store] url is right",
        describe_db_error(backend)
    ))
}

fn io_cause(e: &tokio_postgres::Error) -> Option<&std::io::Error> {
    let mut source = std::error::Error::source(e);
    // Bounded by the length of the chain of causes.
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = s.source();
    }
    None
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What the database (or the connection to it) said, on one line.
pub(crate) fn describe_db_error(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return one_line(&format!("{} (SQLSTATE {})", db.message(), db.code().code()));
    }
    match io_cause(e) {
        Some(io) => one_line(&format!("{e}: {io}")),
        None => one_line(&e.to_string()),
    }
}

pub(crate) fn describe_pool_error(e: &PoolError) -> String {
    match e {
        PoolError::Backend(b) => describe_db_error(b),
        PoolError::Timeout(_) => "no connection became free or could be made in time".to_string(),
        other => one_line(&other.to_string()),
    }
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction holding the version row,
/// so that nodes starting together apply each version once.
async fn migrate_schema(
    client: &mut deadpool_postgres::Object,
    url: &str,
) -> Result<(), StoreError> {
    let fail = |e: tokio_postgres::Error| {
        StoreError::Unavailable(format!(
            "cannot set up the Buzón schema in the PostgreSQL database at {url}: {}",
            describe_db_error(&e)
        ))
    };
    // Two nodes creating the table at once: one may fail on the catalog's unique index
    // (of the table, 42P07, or of its row type, 42710, or a bare 23505); the table then
    // exists and the next turn goes through.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let created = client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS buzon_schema (
                     id integer PRIMARY KEY CHECK (id = 1),
                     version integer NOT NULL
                 );
                 INSERT INTO buzon_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;",
            )
            .await;
        match created {
            Ok(()) => break,
            Err(e) if attempts < 5 && is_creation_race(&e) => {
                tokio::time::sleep(std::time::Duration::from_millis(20 * attempts)).await;
                continue;
            }
            Err(e) => return Err(fail(e)),
        }
    }
    let tx = client.transaction().await.map_err(fail)?;
    let row = tx
        .query_one(
            "SELECT version FROM buzon_schema WHERE id = 1 FOR UPDATE",
            &[],
        )
        .await
        .map_err(fail)?;
    let version: i32 = row.get(0);
    if version > SCHEMA_VERSION {
        return Err(StoreError::Invalid(format!(
            "the database at {url} has Buzón schema version {version}, newer than version {SCHEMA_VERSION} that this buzon knows; upgrade buzon on every node to the newest release"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let to = i as i32 + 1;
        tx.batch_execute(sql).await.map_err(|e| {
            StoreError::Invalid(format!(
                "cannot apply Buzón schema version {to} to the database at {url}: {}",
                describe_db_error(&e)
            ))
        })?;
        tx.execute("UPDATE buzon_schema SET version = $1 WHERE id = 1", &[&to])
            .await
            .map_err(fail)?;
        tracing::info!(url, version = to, "applied Buzón schema version");
    }
    tx.commit().await.map_err(fail)
}

fn is_creation_race(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::DUPLICATE_TABLE
            || *c == SqlState::DUPLICATE_OBJECT
    })
}
