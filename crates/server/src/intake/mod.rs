//! Mail intake: LMTP (RFC 2033) and SMTP (RFC 5321) listeners, and the delivery engine
//! they share with `buzon deliver`.
//!
//! Data flows one way: listener → connection (limits, PROXY, TLS) → `session` (drives
//! the sans-IO `buzon_smtp_proto` session) → the delivery engine of `buzon_intake`
//! (routing, Sieve, quota, durable delivery through the store's `DeliveryStore` seam), on
//! blocking threads. Nothing here parses SMTP itself.

mod session;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use buzon_smtp_proto::reply;
use buzon_smtp_proto::{Mode, SessionConfig};
use tokio::net::{TcpStream, UnixListener};
use tokio::task::JoinSet;

pub use buzon_intake::{Deliverer, IntakeError};

use crate::config::{Listener, Protocol};
use crate::registry::{Refusal, Registry};
use crate::stream::Stream;
use crate::Shared;

/// What every intake connection shares.
pub(crate) struct Intake {
    pub deliverer: Arc<Deliverer>,
    pub smtp: SessionConfig,
    pub lmtp: SessionConfig,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    pub data_deadline: Duration,
    /// SMTP/LMTP connections, counted apart from POP3 ones.
    pub registry: Arc<Registry>,
}

impl Intake {
    pub fn new(config: &crate::Config, stores: &crate::Stores) -> Result<Intake, IntakeError> {
        let deliverer = Arc::new(Deliverer::with_users(
            &config.delivery,
            Arc::clone(&stores.users),
            &config.smtp.hostname,
            Arc::clone(&stores.delivery),
        )?);
        clean_spool(&config.delivery.spool_dir);
        let base = SessionConfig {
            mode: Mode::Smtp,
            hostname: config.smtp.hostname.clone(),
            max_message_size: config.delivery.max_message_size,
            max_recipients: config.delivery.max_recipients,
            max_errors: config.smtp.max_errors,
            starttls: false,
        };
        Ok(Intake {
            deliverer,
            lmtp: SessionConfig {
                mode: Mode::Lmtp,
                ..base.clone()
            },
            smtp: base,
            command_timeout: config.smtp.command_timeout,
            data_timeout: config.smtp.data_timeout,
            data_deadline: config.smtp.data_deadline,
            registry: Registry::new(config.limits.ipv6_prefix),
        })
    }
}

/// Spool files are unlinked when created; anything left is from a crash between the two
/// steps and can go.
fn clean_spool(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with("spool.") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// A TCP connection to an LMTP or SMTP listener.
pub(crate) async fn handle_tcp(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    spec: &Listener,
) {
    let limits = &shared.config.limits;
    // Intake takes no trust decision from the address, so an unknown client (PROXY
    // LOCAL/UNKNOWN) is simply counted under the balancer's address.
    let Some(client) = crate::accept_prelude(&shared, &tcp, peer).await else {
        return;
    };
    let peer = client.addr;
    let intake = Arc::clone(&shared.intake);
    let (mode, per_ip) = match spec.protocol {
        Protocol::Lmtp => (Mode::Lmtp, limits.max_connections),
        _ => (Mode::Smtp, shared.config.smtp.max_connections_per_ip),
    };
    let stream = Stream::Plain(tcp);
    if shared.health.is_down() {
        let r = reply::store_unavailable(&shared.config.smtp.hostname);
        crate::stream::refuse(stream, &r.to_bytes(), limits.write_timeout).await;
        return;
    }
    let _guard = match intake
        .registry
        .connect(peer.ip(), limits.max_connections, per_ip)
    {
        Ok(g) => g,
        Err(why) => {
            let r =
                reply::too_many_connections(&shared.config.smtp.hostname, why == Refusal::PerIp);
            tracing::warn!(remote = %peer, "refused: {}", r.text());
            crate::stream::refuse(stream, &r.to_bytes(), limits.write_timeout).await;
            return;
        }
    };
    session::serve(
        Arc::clone(&shared),
        intake,
        stream,
        Some(peer),
        mode,
        spec.starttls,
    )
    .await;
}

/// Binds a UNIX socket listener: a stale socket file left by a crash is replaced, a live
/// one (another server answering) or any other file is an error. The socket gets `mode`.
pub(crate) fn bind_unix(path: &Path, mode: u32) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    "another server is listening on this socket",
                ));
            }
            std::fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket",
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(listener)
}

/// Accepts LMTP connections on a UNIX socket until shutdown, then removes the socket.
pub(crate) async fn unix_accept_loop(shared: Arc<Shared>, listener: UnixListener, path: PathBuf) {
    let mut shutdown = shared.shutdown.clone();
    let mut sessions = JoinSet::new();
    // Every local client shares one count; only the total limit applies.
    let local = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
        };
        match accepted {
            Ok((unix, _)) => {
                let shared = Arc::clone(&shared);
                sessions.spawn(async move {
                    let limits = &shared.config.limits;
                    let intake = Arc::clone(&shared.intake);
                    let stream = Stream::Unix(unix);
                    if shared.health.is_down() {
                        let r = reply::store_unavailable(&shared.config.smtp.hostname);
                        crate::stream::refuse(stream, &r.to_bytes(), limits.write_timeout).await;
                        return;
                    }
                    let _guard = match intake.registry.connect(
                        local,
                        limits.max_connections,
                        limits.max_connections,
                    ) {
                        Ok(g) => g,
                        Err(_) => {
                            let r =
                                reply::too_many_connections(&shared.config.smtp.hostname, false);
                            crate::stream::refuse(stream, &r.to_bytes(), limits.write_timeout)
                                .await;
                            return;
                        }
                    };
                    session::serve(Arc::clone(&shared), intake, stream, None, Mode::Lmtp, false)
                        .await;
                });
            }
            Err(e) => {
                tracing::warn!("accept failed on {}: {e}", path.display());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    drop(listener);
    let _ = std::fs::remove_file(&path);
    while sessions.join_next().await.is_some() {}
}
