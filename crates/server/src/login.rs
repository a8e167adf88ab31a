//! Checking credentials without blocking the runtime: the user database (reloaded when
//! the file changes), the throttle, the cache of recent successes, and a bounded pool of
//! password verifications on blocking threads.
//!
//! Unknown users cost the same time as known ones and get the same reply: the reply to a
//! login never tells whether the user exists.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use buzon_auth::{Admission, AuthCache, Throttle, UserDb};
use buzon_pop3_proto::sasl::{apop_digest, constant_time_eq};
use buzon_pop3_proto::server::Credential;
use tokio::sync::Semaphore;

use crate::config::AuthPolicy;

/// The verdict on a credential check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Valid; the canonical user name (as in the users file).
    Valid(String),
    Invalid,
    /// The user database could not be read: a temporary server problem.
    Unavailable(String),
}

pub struct Authenticator {
    users_file: PathBuf,
    db: RwLock<Arc<UserDb>>,
    throttle: Mutex<Throttle>,
    cache: Mutex<AuthCache>,
    verify_slots: Semaphore,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("users_file", &self.users_file)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(policy: &AuthPolicy) -> Result<Self, buzon_auth::AuthError> {
        let db = UserDb::load(&policy.users_file)?;
        Ok(Self {
            users_file: policy.users_file.clone(),
            db: RwLock::new(Arc::new(db)),
            throttle: Mutex::new(Throttle::new(policy.throttle.clone())),
            cache: Mutex::new(AuthCache::new(policy.cache_ttl, 10_000)),
            verify_slots: Semaphore::new(policy.verify_concurrency),
        })
    }

    /// The current user database, reloaded first if the file changed on disk.
    pub fn users(&self) -> Result<Arc<UserDb>, String> {
        let current = self
            .db
            .read()
            .map(|d| Arc::clone(&d))
            .map_err(|_| "user database lock poisoned".to_string())?;
        let on_disk = std::fs::metadata(&self.users_file)
            .and_then(|m| m.modified())
            .ok();
        if on_disk == current.modified() {
            return Ok(current);
        }
        match UserDb::load(&self.users_file) {
            Ok(db) => {
                let db = Arc::new(db);
                if let Ok(mut w) = self.db.write() {
                    *w = Arc::clone(&db);
                }
                tracing::info!(file = %self.users_file.display(), users = db.len(), "reloaded the users file");
                Ok(db)
            }
            Err(e) => {
                // Keep serving with the last good copy; say why the new one was refused.
                tracing::error!(
                    "users file changed but cannot be loaded, keeping the previous version: {e}"
                );
                Ok(current)
            }
        }
    }

    /// True when APOP is possible for some user (someone has a plaintext password).
    pub fn apop_possible(&self) -> bool {
        // A stat of the users file (and a reload when it changed), so a user added with
        // a plaintext password makes APOP available from the next greeting on.
        self.users().map(|d| d.any_plaintext()).unwrap_or(false)
    }

    /// The throttle's decision on this attempt: check it (after a wait) or refuse it
    /// unchecked; the wait is a reserved slot, so parallel guesses queue one behind the
    /// other instead of sharing one penalty.
    /// `exemptible` is false when `ip` is a proxy's and the client's own address unknown.
    pub fn admit(&self, ip: IpAddr, exemptible: bool, user: &str) -> Admission {
        let mut t = self.throttle.lock().unwrap_or_else(|p| p.into_inner());
        let admit = |t: &mut Throttle| t.admit(Instant::now(), ip, Some(user));
        if exemptible {
            admit(&mut t)
        } else {
            t.without_exemptions(admit)
        }
    }

    /// The delay before every failure reply.
    pub fn failure_delay(&self) -> Duration {
        self.throttle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .failure_delay()
    }

    /// Records the outcome; returns the delay to impose before a failure reply.
    pub fn record(&self, ip: IpAddr, exemptible: bool, user: &str, ok: bool) -> Duration {
        let mut guard = self.throttle.lock().unwrap_or_else(|p| p.into_inner());
        if !exemptible {
            return guard.without_exemptions(|t| Self::record_in(t, ip, user, ok));
        }
        Self::record_in(&mut guard, ip, user, ok)
    }

    fn record_in(t: &mut Throttle, ip: IpAddr, user: &str, ok: bool) -> Duration {
        let now = Instant::now();
        if ok {
            t.record_success(now, ip, user);
            Duration::ZERO
        } else {
            t.record_failure(now, ip, Some(user));
            t.prune(now);
            t.failure_delay()
        }
    }

    /// Checks a credential on a blocking thread, with at most `verify_concurrency`
    /// verifications at once so a login flood cannot starve running sessions.
    pub async fn verify(self: &Arc<Self>, user: String, credential: Credential) -> Verdict {
        let Ok(_permit) = self.verify_slots.acquire().await else {
            return Verdict::Unavailable("server shutting down".into());
        };
        let me = Arc::clone(self);
        match tokio::task::spawn_blocking(move || me.verify_blocking(&user, &credential)).await {
            Ok(v) => v,
            Err(e) => Verdict::Unavailable(format!("verification task failed: {e}")),
        }
    }

    fn verify_blocking(&self, user: &str, credential: &Credential) -> Verdict {
        let db = match self.users() {
            Ok(db) => db,
            Err(e) => return Verdict::Unavailable(e),
        };
        let entry = buzon_auth::validate_username(user)
            .ok()
            .and_then(|()| db.lookup(user));
        let Some(entry) = entry else {
            if let Credential::Password(p) = credential {
                buzon_auth::dummy_verify(p.expose());
            }
            return Verdict::Invalid;
        };
        let ok = match credential {
            Credential::Password(p) => {
                let now = Instant::now();
                let cached = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(
                    now,
                    &entry.name,
                    p.expose(),
                    &entry.password,
                );
                if cached {
                    true
                } else {
                    match buzon_auth::verify_password(&entry.password, p.expose()) {
                        Ok(true) => {
                            self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(
                                now,
                                &entry.name,
                                p.expose(),
                                &entry.password,
                            );
                            true
                        }
                        Ok(false) => false,
                        Err(e) => {
                            tracing::warn!(user = %entry.name, "stored password cannot be checked: {e}");
                            false
                        }
                    }
                }
            }
            Credential::Apop { timestamp, digest } => {
                match buzon_auth::plaintext_password(&entry.password) {
                    Some(secret) => constant_time_eq(
                        apop_digest(timestamp, secret.expose()).as_bytes(),
                        digest.as_bytes(),
                    ),
                    None => false,
                }
            }
        };
        if ok {
            Verdict::Valid(entry.name.clone())
        } else {
            Verdict::Invalid
        }
    }
}
