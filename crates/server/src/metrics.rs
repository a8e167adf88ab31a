//! Prometheus metrics: what the server counts, and the `/metrics` listener that shows it
//! (text exposition format, `[[listen]] protocol = "metrics"`, loopback in the samples).
//!
//! Names follow Prometheus' conventions: a `buzon_` prefix, `_total` for counters,
//! base units (`_seconds`, `_bytes`), labels with a small fixed set of values (never a
//! user name or an address). Rendering is `prometheus-client`'s.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::net::TcpStream;

use crate::Shared;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ListenerLabel {
    pub listener: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct EndLabels {
    pub listener: &'static str,
    /// `none`, `TLSv1.2`, `TLSv1.3` or `at-proxy`.
    pub tls: &'static str,
    /// How the session ended (`quit`, `timeout`, …; the session log's `end`).
    pub end: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct LoginLabels {
    /// `USER`, `APOP`, `PLAIN`, `LOGIN`, `SCRAM-SHA-256`, …
    pub mechanism: String,
    /// `success`, `failure`, `refused` (throttled, unchecked), `unavailable`
    /// (credentials could not be checked), `mailbox_refused` (in use, login delay…).
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CommandLabels {
    pub command: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DeliveryLabels {
    /// `lmtp` or `smtp`.
    pub protocol: &'static str,
    /// `delivered`, `temporary_failure` (4xx) or `permanent_failure` (5xx).
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StoreErrorLabels {
    /// `open` (a mailbox), `read` (a message), `update` (deleting at QUIT).
    pub operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct BuildLabels {
    pub version: &'static str,
}

/// Every metric the server keeps.
pub(crate) struct Metrics {
    registry: Registry,
    pub sessions_open: Family<ListenerLabel, Gauge>,
    pub sessions: Family<EndLabels, Counter>,
    pub logins: Family<LoginLabels, Counter>,
    pub commands: Family<CommandLabels, Counter>,
    pub retrieved: Counter,
    pub retrieved_bytes: Counter,
    pub deleted: Counter,
    pub deliveries: Family<DeliveryLabels, Counter>,
    pub delivery_seconds: Histogram,
    pub quota_refusals: Counter,
    pub tls_handshake_failures: Family<ListenerLabel, Counter>,
    pub lock_takeovers: Counter,
    pub certificate_expiry: Gauge<i64, AtomicI64Wrap>,
    pub intake_sessions_open: Family<ListenerLabel, Gauge>,
    pub intake_sessions: Family<EndLabels, Counter>,
    pub login_delays: Counter,
    pub store_errors: Family<StoreErrorLabels, Counter>,
}

/// `Gauge<i64>` storage (a Unix time).
pub(crate) type AtomicI64Wrap = std::sync::atomic::AtomicI64;

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("buzon");
        let build: Family<BuildLabels, Gauge> = Family::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("build_info", "Buzón's version (always 1)", build);
        let sessions_open = Family::<ListenerLabel, Gauge>::default();
        registry.register(
            "pop3_sessions_open",
            "POP3 sessions open now, by listener",
            sessions_open.clone(),
        );
        let sessions = Family::<EndLabels, Counter>::default();
        registry.register(
            "pop3_sessions",
            "POP3 sessions ended, by listener, TLS version and how they ended",
            sessions.clone(),
        );
        let logins = Family::<LoginLabels, Counter>::default();
        registry.register(
            "pop3_logins",
            "POP3 login attempts, by mechanism and result",
            logins.clone(),
        );
        let commands = Family::<CommandLabels, Counter>::default();
        registry.register("pop3_commands", "POP3 commands, by name", commands.clone());
        let retrieved = Counter::default();
        registry.register(
            "pop3_retrieved_messages",
            "Messages sent whole (RETR)",
            retrieved.clone(),
        );
        let retrieved_bytes = Counter::default();
        registry.register_with_unit(
            "pop3_retrieved",
            "Octets of messages sent by RETR",
            prometheus_client::registry::Unit::Bytes,
            retrieved_bytes.clone(),
        );
        let deleted = Counter::default();
        registry.register(
            "pop3_deleted_messages",
            "Messages deleted in the UPDATE state",
            deleted.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "deliveries",
            "LMTP/SMTP deliveries, one per recipient (LMTP) or message (SMTP), by result",
            deliveries.clone(),
        );
        let delivery_seconds = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]);
        registry.register_with_unit(
            "delivery_duration",
            "Time from the end of DATA to the stored, acknowledged message",
            prometheus_client::registry::Unit::Seconds,
            delivery_seconds.clone(),
        );
        let quota_refusals = Counter::default();
        registry.register(
            "quota_refusals",
            "Deliveries refused because the mailbox was over its quota",
            quota_refusals.clone(),
        );
        let tls_handshake_failures = Family::<ListenerLabel, Counter>::default();
        registry.register(
            "tls_handshake_failures",
            "TLS handshakes that failed or timed out, by listener",
            tls_handshake_failures.clone(),
        );
        let lock_takeovers = Counter::default();
        registry.register(
            "pop3_lock_takeovers",
            "Mailboxes taken over from a session silent for the whole lock lease",
            lock_takeovers.clone(),
        );
        let certificate_expiry = Gauge::<i64, AtomicI64Wrap>::default();
        registry.register_with_unit(
            "tls_certificate_expiry_timestamp",
            "When the served certificate expires (Unix time)",
            prometheus_client::registry::Unit::Seconds,
            certificate_expiry.clone(),
        );
        let intake_sessions_open = Family::<ListenerLabel, Gauge>::default();
        registry.register(
            "intake_sessions_open",
            "LMTP and SMTP sessions open now, by listener",
            intake_sessions_open.clone(),
        );
        let intake_sessions = Family::<EndLabels, Counter>::default();
        registry.register(
            "intake_sessions",
            "LMTP and SMTP sessions ended, by listener, TLS version and how they ended",
            intake_sessions.clone(),
        );
        let login_delays = Counter::default();
        registry.register(
            "pop3_login_delays",
            "Logins held back by the throttle before their check (a penalty)",
            login_delays.clone(),
        );
        let store_errors = Family::<StoreErrorLabels, Counter>::default();
        registry.register(
            "store_errors",
            "Mail store errors met by POP3 sessions, by operation",
            store_errors.clone(),
        );
        Metrics {
            registry,
            intake_sessions_open,
            intake_sessions,
            login_delays,
            store_errors,
            sessions_open,
            sessions,
            logins,
            commands,
            retrieved,
            retrieved_bytes,
            deleted,
            deliveries,
            delivery_seconds,
            quota_refusals,
            tls_handshake_failures,
            lock_takeovers,
            certificate_expiry,
        }
    }

    /// Counts a store error met while doing `operation`.
    pub(crate) fn store_error(&self, operation: &'static str) {
        self.store_errors
            .get_or_create(&StoreErrorLabels { operation })
            .inc();
    }

    /// Counts a failed or timed-out TLS handshake on `listener`.
    pub(crate) fn tls_failed(&self, listener: &'static str) {
        self.tls_handshake_failures
            .get_or_create(&ListenerLabel { listener })
            .inc();
    }

    /// The text exposition format (OpenMetrics text, which Prometheus reads).
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// One open POP3 session in `buzon_pop3_sessions_open`, for as long as it lives (a
/// session task dropped at shutdown is counted out too).
pub(crate) struct OpenSession(Gauge);

impl OpenSession {
    pub(crate) fn new(m: &Metrics, listener: &'static str) -> OpenSession {
        OpenSession::in_family(&m.sessions_open, listener)
    }

    /// An open LMTP or SMTP session.
    pub(crate) fn intake(m: &Metrics, listener: &'static str) -> OpenSession {
        OpenSession::in_family(&m.intake_sessions_open, listener)
    }

    fn in_family(family: &Family<ListenerLabel, Gauge>, listener: &'static str) -> OpenSession {
        let g = family.get_or_create(&ListenerLabel { listener }).clone();
        g.inc();
        OpenSession(g)
    }
}

impl Drop for OpenSession {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The listener label of a protocol.
pub(crate) fn listener_name(p: crate::config::Protocol) -> &'static str {
    match p {
        crate::config::Protocol::Pop3 => "pop3",
        crate::config::Protocol::Pop3s => "pop3s",
        crate::config::Protocol::Lmtp => "lmtp",
        crate::config::Protocol::Smtp => "smtp",
        crate::config::Protocol::Https => "https",
        crate::config::Protocol::Http => "http",
        crate::config::Protocol::Metrics => "metrics",
    }
}

/// Serves one connection to the metrics listener: `GET /metrics` only.
pub(crate) async fn handle(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr) {
    let _ = tcp.set_nodelay(true);
    let app = Router::new()
        .route(
            "/metrics",
            get({
                let shared = Arc::clone(&shared);
                move || async move {
                    (
                        StatusCode::OK,
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        shared.metrics.render(),
                    )
                        .into_response()
                }
            }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "see /metrics").into_response() });
    let service = hyper_util::service::TowerToHyperService::new(app);
    let served =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service);
    if let Ok(Err(e)) = tokio::time::timeout(shared.config.limits.auth_timeout, served).await {
        tracing::debug!(remote = %peer, "metrics connection: {e}");
    }
}
