//! `buzon status`: the server's answer to "is it working?", over a UNIX socket in the data
//! folder (`<data_dir>/admin.sock`, mode 0600, created by the server's own account after
//! it switched to it, so only that account and root can ask). Each connection gets one
//! JSON document — version, uptime, listeners, the open POP3 sessions with user, address,
//! TLS and age, and the main counters — and is closed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;

use crate::Shared;

/// The admin socket of a data folder.
pub fn admin_socket(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.sock")
}

/// One open POP3 session as `buzon status` lists it.
#[derive(Debug, Clone)]
struct SessionInfo {
    listener: &'static str,
    remote: SocketAddr,
    since: SystemTime,
    tls: String,
    user: Option<String>,
}

/// The open POP3 sessions.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    next: AtomicU64,
    map: Mutex<HashMap<u64, SessionInfo>>,
}

impl Sessions {
    /// Lists a session until the returned guard is dropped.
    pub(crate) fn track(
        self: &Arc<Self>,
        listener: &'static str,
        remote: SocketAddr,
        tls: &str,
    ) -> Tracked {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let info = SessionInfo {
            listener,
            remote,
            since: SystemTime::now(),
            tls: tls.to_string(),
            user: None,
        };
        self.lock().insert(id, info);
        Tracked {
            id,
            sessions: Arc::clone(self),
        }
    }

    /// The sessions now, oldest first: (user, client address, seconds open, TLS).
    pub(crate) fn list(&self) -> Vec<(Option<String>, SocketAddr, u64, String)> {
        let now = SystemTime::now();
        let mut v: Vec<_> = self
            .lock()
            .values()
            .map(|s| {
                (
                    s.user.clone(),
                    s.remote,
                    now.duration_since(s.since)
                        .unwrap_or(Duration::ZERO)
                        .as_secs(),
                    s.tls.clone(),
                )
            })
            .collect();
        v.sort_by_key(|s| std::cmp::Reverse(s.2));
        v
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, SessionInfo>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A session's entry in [`Sessions`], removed when dropped.
#[derive(Debug)]
pub(crate) struct Tracked {
    id: u64,
    sessions: Arc<Sessions>,
}

impl Tracked {
    pub(crate) fn set_user(&self, user: &str) {
        if let Some(s) = self.sessions.lock().get_mut(&self.id) {
            s.user = Some(user.to_string());
        }
    }

    pub(crate) fn set_tls(&self, tls: &str) {
        if let Some(s) = self.sessions.lock().get_mut(&self.id) {
            s.tls = tls.to_string();
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.sessions.lock().remove(&self.id);
    }
}

/// Totals `buzon status` shows (the metrics keep the same by label).
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub logins_ok: AtomicU64,
    pub logins_failed: AtomicU64,
    pub retrieved: AtomicU64,
    pub retrieved_bytes: AtomicU64,
    pub deleted: AtomicU64,
    pub delivered: AtomicU64,
    pub delivery_failures: AtomicU64,
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The status document.
pub(crate) fn document(shared: &Shared, listeners: &[(String, String)]) -> String {
    let now = SystemTime::now();
    let mut sessions: Vec<SessionInfo> = shared.sessions.lock().values().cloned().collect();
    sessions.sort_by_key(|s| s.since);
    let t = &shared.totals;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let doc = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "started": secs(shared.started),
        "uptime_s": now.duration_since(shared.started).unwrap_or(Duration::ZERO).as_secs(),
        "listeners": listeners.iter().map(|(p, a)| serde_json::json!({"protocol": p, "address": a})).collect::<Vec<_>>(),
        "store": {
            "kind": if shared.config.store == buzon_store::StoreSettings::Maildir { "maildir" } else { "postgres" },
            "reachable": !shared.health.is_down(),
        },
        "sessions": sessions.iter().map(|s| serde_json::json!({
            "listener": s.listener,
            "remote": s.remote.to_string(),
            "user": s.user,
            "tls": s.tls,
            "age_s": now.duration_since(s.since).unwrap_or(Duration::ZERO).as_secs(),
        })).collect::<Vec<_>>(),
        "totals": {
            "logins_ok": get(&t.logins_ok),
            "logins_failed": get(&t.logins_failed),
            "retrieved": get(&t.retrieved),
            "retrieved_bytes": get(&t.retrieved_bytes),
            "deleted": get(&t.deleted),
            "delivered": get(&t.delivered),
            "delivery_failures": get(&t.delivery_failures),
        },
    });
    format!("{doc}\n")
}

/// Creates the admin socket (replacing one a crashed server left) with mode 0600.
pub(crate) fn bind(data_dir: &Path) -> std::io::Result<UnixListener> {
    crate::intake::bind_unix(&admin_socket(data_dir), 0o600)
}

/// Answers each connection with the status document, until shutdown; then removes the
/// socket.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    listener: UnixListener,
    path: PathBuf,
    listeners: Vec<(String, String)>,
) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        match accepted {
            Ok((mut stream, _)) => {
                let doc = document(&shared, &listeners);
                let write = async move {
                    let _ = stream.write_all(doc.as_bytes()).await;
                    let _ = stream.shutdown().await;
                };
                let _ = tokio::time::timeout(Duration::from_secs(5), write).await;
            }
            Err(e) => {
                tracing::warn!("admin socket accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let _ = std::fs::remove_file(&path);
}
