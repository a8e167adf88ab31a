//! Buzón's network runtime: listeners for POP3 (with STLS) and POP3S, and for mail intake
//! over LMTP and SMTP ([`intake`]), rustls, connection limits, PROXY headers, timeouts,
//! and graceful shutdown.
//!
//! Data flows one way: listener → connection (limits, PROXY, TLS) → protocol session
//! ([`pop3`], or [`intake`]'s SMTP/LMTP sessions) → authentication ([`login`]) and store.
//! Nothing here parses POP3 or SMTP itself; the protocol crates do.
#![forbid(unsafe_code)]

mod account;
pub mod config;
mod health;
pub mod intake;
mod login;
mod metrics;
pub mod oauth;
mod pop3;
pub mod privileges;
pub mod proxy;
mod registry;
pub mod safe_fs;
pub mod status;
pub mod stores;
mod stream;
pub mod tls;
mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use buzon_pop3_proto::server::SessionConfig;
use buzon_pop3_proto::{RespCode, Response};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::timeout;

pub use config::{Config, ConfigError, Listener, Protocol};
use registry::{Refusal, Registry};
pub use stores::{open_stores, Stores};
use stream::Stream;
use tls::TlsState;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source} — {hint}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
        hint: &'static str,
    },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot load the users file: {0}")]
    Users(#[from] buzon_auth::AuthError),
    #[error("cannot create the mail folder {path}: {source} — check that the data folder is writable by the server's user")]
    MailDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Intake(#[from] intake::IntakeError),
    #[error("cannot listen on the UNIX socket {path}: {source} — check that its folder exists and is writable by the server's account, and that no other server uses it")]
    BindUnix {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The mail store cannot be opened (for PostgreSQL: one line naming the URL and the fix).
    #[error("{0}")]
    Store(String),
    /// `[oauth]` cannot be used (its CA file cannot be read).
    #[error("{0}")]
    OAuth(String),
}

/// State every connection task shares.
pub(crate) struct Shared {
    pub config: Config,
    pub session_config: Arc<SessionConfig>,
    pub tls: Arc<TlsState>,
    pub auth: Arc<login::Authenticator>,
    pub registry: Arc<Registry>,
    pub shutdown: watch::Receiver<bool>,
    pub intake: Arc<intake::Intake>,
    /// Where POP3 sessions find their mailboxes.
    pub store: Arc<dyn buzon_store::MailStore>,
    /// The store's health ([`health`]): while it cannot be reached, new connections are
    /// refused so that a balancer's health check takes this node out of rotation.
    pub health: Arc<health::Health>,
    /// The POP3 ports autoconfiguration documents name ([`web`]).
    pub(crate) published: web::Published,
    /// What `/metrics` shows ([`metrics`]).
    pub(crate) metrics: metrics::Metrics,
    /// The open POP3 sessions, for `buzon status` ([`status`]).
    pub(crate) sessions: Arc<status::Sessions>,
    /// The signed-in browsers of the account pages ([`account`]).
    pub(crate) web_sessions: account::Sessions,
    /// Changes the account pages make to users' entries.
    pub(crate) user_editor: stores::UserEditor,
    /// Where deliveries go: the account page asks it for the mailbox's usage.
    pub(crate) delivery: Arc<dyn buzon_store::DeliveryStore>,
    /// The totals `buzon status` shows.
    pub(crate) totals: status::Totals,
    pub(crate) started: std::time::SystemTime,
}

/// A started server. Dropping it does not stop it; call [`RunningServer::shutdown`].
pub struct RunningServer {
    addrs: Vec<(Protocol, SocketAddr)>,
    unix_paths: Vec<(Protocol, std::path::PathBuf)>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    shared: Arc<Shared>,
    tls: Arc<TlsState>,
}

impl RunningServer {
    /// The bound addresses, in configuration order (port 0 resolved).
    pub fn local_addrs(&self) -> &[(Protocol, SocketAddr)] {
        &self.addrs
    }

    /// The UNIX socket listeners (LMTP), in configuration order.
    pub fn unix_paths(&self) -> &[(Protocol, std::path::PathBuf)] {
        &self.unix_paths
    }

    /// The first bound address for a protocol.
    pub fn addr(&self, protocol: Protocol) -> Option<SocketAddr> {
        self.addrs
            .iter()
            .find(|(p, _)| *p == protocol)
            .map(|(_, a)| *a)
    }

    /// SHA-256 fingerprint of the certificate in use.
    pub fn tls_fingerprint(&self) -> String {
        self.tls.fingerprint()
    }

    /// Re-reads the TLS certificate and key (SIGHUP).
    pub fn reload_tls(&self) -> Result<String, tls::TlsError> {
        let fingerprint = self.tls.reload()?;
        self.shared
            .metrics
            .certificate_expiry
            .set(self.tls.not_after().unwrap_or(0));
        Ok(fingerprint)
    }

    /// Open connections right now.
    pub fn connections(&self) -> usize {
        self.shared.registry.total()
    }

    /// Stops accepting, tells every open session (a final `-ERR` line; no deletions for
    /// sessions that did not QUIT), and waits up to `grace` for them to finish.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.shutdown.send(true);
        let wait = async { while self.tasks.join_next().await.is_some() {} };
        if timeout(grace, wait).await.is_err() {
            tracing::warn!("sessions still open after {grace:?}; closing them");
            self.tasks.abort_all();
        }
    }
}

/// Listeners bound and TLS loaded, nothing served yet: the point at which `buzon serve`
/// switches from root to its own account ([`privileges`]). Plain std sockets, so no
/// runtime (and no thread) exists yet.
pub struct BoundServer {
    config: Config,
    tls: Arc<TlsState>,
    listeners: Vec<(config::Listener, SocketAddr, std::net::TcpListener)>,
}

impl BoundServer {
    /// The bound addresses, in configuration order (port 0 resolved).
    pub fn local_addrs(&self) -> Vec<(Protocol, SocketAddr)> {
        self.listeners
            .iter()
            .map(|(l, a, _)| (l.protocol, *a))
            .collect()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Starts serving on the bound listeners (inside a multi-threaded tokio runtime):
    /// opens the store ([`open_stores`]: the mail folder and users file, or the
    /// PostgreSQL database) and spawns the accept loops.
    pub async fn serve(self) -> Result<RunningServer, ServerError> {
        let BoundServer {
            config,
            tls,
            listeners,
        } = self;
        stores::create_mail_dir(&config)?;
        let stores = open_stores(&config).await?;
        let oauth = match &config.oauth {
            Some(policy) => Some((
                Arc::new(oauth::OAuth::new(policy.clone()).map_err(ServerError::OAuth)?),
                config.delivery.routing.local_domains.clone(),
            )),
            None => None,
        };
        let auth = login::Authenticator::start(
            &config.auth,
            Arc::clone(&stores.users),
            Arc::clone(&stores.credentials),
            oauth,
        );
        let session_config = Arc::new(SessionConfig {
            greeting: config.pop3.greeting.clone(),
            language: config.pop3.language,
            implementation: config.pop3.implementation.clone(),
            expire: config.pop3.expire.clone(),
            login_delay: config.pop3.login_delay,
            max_bad_commands: config.limits.max_bad_commands,
            max_auth_failures: config.auth.max_auth_failures,
            lenient_bare_lf: config.pop3.lenient_bare_lf,
        });
        let mut tokio_listeners = Vec::new();
        for (spec, addr, listener) in listeners {
            let listener = TcpListener::from_std(listener).map_err(|source| ServerError::Bind {
                addr,
                source,
                hint: "the listener could not join the runtime",
            })?;
            tokio_listeners.push((spec, addr, listener));
        }
        let intake = Arc::new(intake::Intake::new(&config, &stores)?);
        let store = Arc::clone(&stores.mail);
        let health = health::Health::start(stores.pg.clone());
        let user_editor = stores::UserEditor::of(&config, &stores);
        let mut unix = Vec::new();
        for u in &config.unix_listeners {
            let listener =
                intake::bind_unix(&u.path, u.mode).map_err(|source| ServerError::BindUnix {
                    path: u.path.clone(),
                    source,
                })?;
            unix.push((u.clone(), listener));
        }
        let (tx, rx) = watch::channel(false);
        let registry = Registry::new(config.limits.ipv6_prefix);
        let bound: Vec<(config::Listener, SocketAddr)> = tokio_listeners
            .iter()
            .map(|(spec, addr, _)| (spec.clone(), *addr))
            .collect();
        let published = web::Published::of(&bound);
        let shared = Arc::new(Shared {
            config,
            session_config,
            tls: Arc::clone(&tls),
            auth,
            registry,
            shutdown: rx,
            intake,
            store,
            health,
            published,
            metrics: metrics::Metrics::new(),
            sessions: Arc::default(),
            web_sessions: account::Sessions::default(),
            user_editor,
            delivery: Arc::clone(&stores.delivery),
            totals: status::Totals::default(),
            started: std::time::SystemTime::now(),
        });
        shared
            .metrics
            .certificate_expiry
            .set(tls.not_after().unwrap_or(0));
        let mut tasks = JoinSet::new();
        let mut addrs = Vec::new();
        for (spec, addr, listener) in tokio_listeners {
            tracing::info!(%addr, protocol = spec.kind(), "listening");
            addrs.push((spec.protocol, addr));
            tasks.spawn(accept_loop(Arc::clone(&shared), listener, spec));
        }
        let mut unix_paths = Vec::new();
        for (spec, listener) in unix {
            tracing::info!(path = %spec.path.display(), protocol = spec.protocol.name(), "listening");
            unix_paths.push((spec.protocol, spec.path.clone()));
            tasks.spawn(intake::unix_accept_loop(
                Arc::clone(&shared),
                listener,
                spec.path,
            ));
        }
        // `buzon status` asks here; made by the server's own account (after the switch).
        let data_dir = shared.config.data_dir.clone();
        match status::bind(&data_dir) {
            Ok(listener) => {
                let mut shown: Vec<(String, String)> = addrs
                    .iter()
                    .map(|(p, a)| (p.name().to_string(), a.to_string()))
                    .collect();
                shown.extend(
                    unix_paths.iter().map(|(p, path)| {
                        (p.name().to_string(), format!("unix:{}", path.display()))
                    }),
                );
                tasks.spawn(status::serve(
                    Arc::clone(&shared),
                    listener,
                    status::admin_socket(&data_dir),
                    shown,
                ));
            }
            Err(e) => tracing::warn!(
                path = %status::admin_socket(&data_dir).display(),
                "cannot create the admin socket, `buzon status` will not answer: {e}"
            ),
        }
        Ok(RunningServer {
            addrs,
            unix_paths,
            shutdown: tx,
            tasks,
            shared,
            tls,
        })
    }
}

/// Binds every listener and loads the TLS certificate, without serving yet. Needs no
/// runtime; call [`BoundServer::serve`] inside one.
pub fn bind(config: Config) -> Result<BoundServer, ServerError> {
    raise_fd_limit(&config);
    let tls = Arc::new(TlsState::new(
        &config.tls,
        &config.hostname,
        config.tls13_only,
    )?);
    let mut listeners = Vec::new();
    for l in &config.listeners {
        let listener = bind_listener(l.address)?;
        let local = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: l.address,
            source,
            hint: "the socket has no address",
        })?;
        listeners.push((l.clone(), local, listener));
    }
    Ok(BoundServer {
        config,
        tls,
        listeners,
    })
}

/// Binds every listener and starts serving.
pub async fn start(config: Config) -> Result<RunningServer, ServerError> {
    bind(config)?.serve().await
}

fn bind_listener(addr: SocketAddr) -> Result<std::net::TcpListener, ServerError> {
    let hint = |e: &std::io::Error| {
        match e.kind() {
        std::io::ErrorKind::AddrInUse => "another program already listens there; stop it or choose another port",
        std::io::ErrorKind::PermissionDenied => "ports below 1024 need root (Buzón drops privileges after binding) or CAP_NET_BIND_SERVICE",
        std::io::ErrorKind::AddrNotAvailable => "this machine has no such address",
        _ => "check the `listen` section of the config",
    }
    };
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )
    .map_err(|source| ServerError::Bind {
        addr,
        hint: hint(&source),
        source,
    })?;
    let setup = || -> std::io::Result<()> {
        sock.set_reuse_address(true)?;
        if addr.is_ipv6() {
            // "[::]:110" then listens on IPv6 only, so a second "0.0.0.0:110" can coexist.
            sock.set_only_v6(true)?;
        }
        sock.set_nonblocking(true)?;
        sock.bind(&addr.into())?;
        sock.listen(1024)
    };
    setup().map_err(|source| ServerError::Bind {
        addr,
        hint: hint(&source),
        source,
    })?;
    Ok(sock.into())
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, spec: config::Listener) {
    let mut shutdown = shared.shutdown.clone();
    let mut sessions = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
        };
        match accepted {
            Ok((tcp, peer)) => {
                sessions.spawn(handle_connection(
                    Arc::clone(&shared),
                    tcp,
                    peer,
                    spec.clone(),
                ));
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
}

async fn handle_connection(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    spec: config::Listener,
) {
    if matches!(spec.protocol, Protocol::Lmtp | Protocol::Smtp) {
        return intake::handle_tcp(shared, tcp, peer, &spec).await;
    }
    if spec.protocol == Protocol::Metrics {
        return metrics::handle(shared, tcp, peer).await;
    }
    if matches!(spec.protocol, Protocol::Https | Protocol::Http) {
        return web::handle(shared, tcp, peer, spec.protocol == Protocol::Https).await;
    }
    let connected = tokio::time::Instant::now();
    let limits = &shared.config.limits;
    let handshake = limits.handshake_timeout;
    let Some(client) = accept_prelude(&shared, &tcp, peer).await else {
        return;
    };
    let peer = client.addr;

    let guard = shared.registry.connect(
        peer.ip(),
        limits.max_connections,
        limits.max_connections_per_ip,
    );
    let stream = match spec.protocol {
        Protocol::Pop3 => Stream::Plain(tcp),
        // Served by `intake::handle_tcp` and `web::handle` above.
        Protocol::Lmtp | Protocol::Smtp | Protocol::Https | Protocol::Http | Protocol::Metrics => {
            return
        }
        Protocol::Pop3s => {
            let acceptor = tokio_rustls::TlsAcceptor::from(shared.tls.server_config());
            match timeout(handshake, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => Stream::Tls(Box::new(tls)),
                Ok(Err(e)) => {
                    tracing::info!(remote = %peer, "TLS handshake failed: {e}");
                    shared.metrics.tls_failed("pop3s");
                    return;
                }
                Err(_) => {
                    tracing::info!(remote = %peer, "TLS handshake timed out");
                    shared.metrics.tls_failed("pop3s");
                    return;
                }
            }
        }
    };
    if shared.health.is_down() {
        let text = buzon_i18n::text(shared.config.pop3.language, "pop3-store-unavailable", &[]);
        let reply = Response::err_code(RespCode::SysTemp, text).to_bytes();
        stream::refuse(stream, &reply, limits.write_timeout).await;
        return;
    }
    let _guard = match guard {
        Ok(g) => g,
        Err(why) => {
            let key = match why {
                Refusal::Total => "pop3-too-many-connections",
                Refusal::PerIp => "pop3-too-many-connections-ip",
            };
            let text = |lang| buzon_i18n::text(lang, key, &[]);
            tracing::warn!(remote = %peer, "refused: {}", text(buzon_i18n::Lang::En));
            let reply =
                Response::err_code(RespCode::SysTemp, text(shared.config.pop3.language)).to_bytes();
            stream::refuse(stream, &reply, limits.write_timeout).await;
            return;
        }
    };
    pop3::serve(
        Arc::clone(&shared),
        stream,
        client,
        spec.protocol == Protocol::Pop3 && spec.starttls,
        connected,
        metrics::listener_name(spec.protocol),
    )
    .await;
}

/// What every TCP connection of every protocol goes through first: no Nagle delay, TCP
/// keepalive, and from `proxy.trusted_networks` the PROXY header (within the handshake
/// timeout), which names the real client. `None`: the connection is to be closed (a
/// malformed header, or none in time).
pub(crate) async fn accept_prelude(
    shared: &Shared,
    tcp: &TcpStream,
    peer: SocketAddr,
) -> Option<pop3::Client> {
    let _ = tcp.set_nodelay(true);
    set_keepalive(tcp);
    let mut client = pop3::Client {
        addr: peer,
        known: true,
        proxied_tls: false,
    };
    if shared
        .config
        .proxy_trusted
        .iter()
        .any(|n| n.contains(peer.ip()))
    {
        let handshake = shared.config.limits.handshake_timeout;
        match timeout(handshake, read_proxy_header(tcp)).await {
            Ok(Ok(Some((real, client_tls)))) => {
                client.addr = real;
                client.proxied_tls = client_tls;
            }
            // LOCAL or UNKNOWN: `addr` stays the balancer's own address (often
            // 127.0.0.1), which must not make the client trusted.
            Ok(Ok(None)) => client.known = false,
            Ok(Err(e)) => {
                tracing::info!(remote = %peer, "closing: {e}");
                return None;
            }
            Err(_) => return None,
        }
    }
    Some(client)
}

/// Reads a PROXY header without consuming anything after it (TLS or POP3 bytes): the
/// client's address and whether it spoke TLS to the balancer, or `None` for LOCAL.
async fn read_proxy_header(tcp: &TcpStream) -> Result<Option<(SocketAddr, bool)>, String> {
    let mut buf = vec![0u8; 1100];
    loop {
        let n = tcp.peek(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before the PROXY header".into());
        }
        match proxy::parse(&buf[..n]) {
            Ok(Some((header, len))) => {
                let mut discard = vec![0u8; len];
                let mut got = 0;
                while got < len {
                    tcp.readable().await.map_err(|e| e.to_string())?;
                    match tcp.try_read(&mut discard[got..]) {
                        Ok(0) => return Err("connection closed in the PROXY header".into()),
                        Ok(k) => got += k,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                        Err(e) => return Err(e.to_string()),
                    }
                }
                return Ok(match header {
                    proxy::ProxyHeader::Forwarded { addr, client_tls } => Some((addr, client_tls)),
                    proxy::ProxyHeader::Local => None,
                });
            }
            Ok(None) => {
                if n >= buf.len() {
                    return Err("PROXY header too long".into());
                }
                // Wait for more bytes to arrive before peeking again.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn set_keepalive(tcp: &TcpStream) {
    // A client that vanished without closing is noticed in about 90 s, so its mailbox
    // lock does not outlive it for long.
    let ka = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(60))
        .with_interval(Duration::from_secs(10))
        .with_retries(3);
    let _ = socket2::SockRef::from(tcp).set_tcp_keepalive(&ka);
}

/// Raises the open-file soft limit to the hard limit, and warns when the configured
/// connection limit cannot fit in it.
fn raise_fd_limit(config: &Config) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let cur = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: cur.maximum,
        maximum: cur.maximum,
    };
    let effective = if setrlimit(Resource::Nofile, raised).is_ok() {
        cur.maximum
    } else {
        cur.current
    };
    // Each session needs its socket, a lock file, a message file, and some slack.
    let needed = (config.limits.max_connections as u64)
        .saturating_mul(3)
        .saturating_add(64);
    if let Some(limit) = effective {
        if limit < needed {
            tracing::warn!(
                open_files = limit,
                max_connections = config.limits.max_connections,
                "the open-file limit is too low for limits.max_connections; raise `ulimit -n` (LimitNOFILE= in systemd) to at least {needed} or lower the limit"
            );
        }
    }
}
