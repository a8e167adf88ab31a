//! Checking credentials without blocking the runtime: the user database (reloaded when
//! the file changes), the throttle, the cache of recent successes, and a bounded pool of
//! password verifications on blocking threads.
//!
//! Unknown users cost the same time as known ones and get the same reply: the reply to a
//! login never tells whether the user exists.
//!
//! Must never touch the filesystem on a runtime thread: the greeting and the cache
//! lookup only read the in-memory database ([`Authenticator::users`]); the users file is
//! checked by a background task once a second and by every verification, both on
//! blocking threads ([`UserDirectory::refresh`]); the users come from the file or from
//! the PostgreSQL store ([`crate::stores`]).

use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use buzon_auth::{
    Admission, AuthCache, CredentialStore, DummyHash, Throttle, UserDb, UserDirectory, UserEntry,
};
use buzon_pop3_proto::sasl::{apop_digest, constant_time_eq};
use buzon_pop3_proto::server::Credential;
use tokio::sync::Semaphore;

use crate::config::AuthPolicy;

/// How often the background task looks at the users' source (for the file a `stat`, read
/// only when its stamp changed; for PostgreSQL one row, `users_serial`). Verifications look too, so a new user or
/// password works from the first login; a changed password stops working for cached
/// logins within this interval.
pub const USERS_FILE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The verdict on a credential check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Valid; the canonical user name (as in the users file).
    Valid(String),
    Invalid,
    /// The main password of an account with two-step verification on: right, but POP3
    /// takes only app passwords (and tokens) for it. Answered like a failure, with a text
    /// that says what to use instead.
    TwoStepRequired,
    /// The user database could not be read, or no verification slot came free in
    /// time: a temporary server problem.
    Unavailable(String),
}

pub struct Authenticator {
    users: Arc<dyn UserDirectory>,
    credentials: Arc<dyn CredentialStore>,
    throttle: Mutex<Throttle>,
    cache: Mutex<AuthCache>,
    verify_slots: Semaphore,
    verify_concurrency: usize,
    verify_queue_timeout: Duration,
    dummy: DummyHash,
    /// Bearer tokens' checker (`[oauth]`), and the local domains a token's
    /// `user@domain` claim may name a user by its local part in.
    oauth: Option<Arc<crate::oauth::OAuth>>,
    local_domains: Vec<String>,
    /// When each (user, address, how) login was last recorded: a client polling every
    /// minute costs no write (see [`Authenticator::record_login`]).
    logins_recorded: Mutex<std::collections::HashMap<(String, IpAddr, &'static str), Instant>>,
    /// Keys the made-up SCRAM salts of users without a verifier (see
    /// [`Authenticator::scram_params`]).
    scram_secret: [u8; 32],
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("users", &self.users.describe())
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(
        policy: &AuthPolicy,
        users: Arc<dyn UserDirectory>,
        credentials: Arc<dyn CredentialStore>,
    ) -> Self {
        Self {
            users,
            credentials,
            oauth: None,
            local_domains: Vec::new(),
            logins_recorded: Mutex::default(),
            throttle: Mutex::new(Throttle::new(policy.throttle.clone())),
            cache: Mutex::new(AuthCache::new(policy.cache_ttl, 10_000)),
            verify_slots: Semaphore::new(policy.verify_concurrency),
            verify_concurrency: policy.verify_concurrency,
            verify_queue_timeout: policy.verify_queue_timeout,
            dummy: DummyHash::new(&policy.hash),
            scram_secret: {
                let mut k = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut k);
                k
            },
        }
    }

    /// [`Authenticator::new`], plus the background task that reloads the users when
    /// their source changed (every [`USERS_FILE_CHECK_INTERVAL`], on a blocking thread).
    /// Call inside a tokio runtime; the task ends when the authenticator is dropped.
    pub fn start(
        policy: &AuthPolicy,
        users: Arc<dyn UserDirectory>,
        credentials: Arc<dyn CredentialStore>,
        oauth: Option<(Arc<crate::oauth::OAuth>, Vec<String>)>,
    ) -> Arc<Self> {
        let mut me = Self::new(policy, users, credentials);
        if let Some((checker, domains)) = oauth {
            me.oauth = Some(checker);
            me.local_domains = domains;
        }
        let me = Arc::new(me);
        let weak: Weak<Self> = Arc::downgrade(&me);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(USERS_FILE_CHECK_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(me) = weak.upgrade() else { return };
                let _ = tokio::task::spawn_blocking(move || me.users.refresh()).await;
            }
        });
        me
    }

    /// The user database in memory. Never touches the filesystem or the network, so the
    /// greeting and the cache lookup can call it on the runtime.
    pub fn users(&self) -> Result<Arc<UserDb>, String> {
        Ok(self.users.current())
    }

    /// True when APOP is possible for some user (someone has a plaintext password).
    pub fn apop_possible(&self) -> bool {
        // The database in memory only (no file system call on the runtime): a user added
        // with a plaintext password makes APOP available once the background check has
        // reloaded the file, within about a second.
        self.users().map(|d| d.any_plaintext()).unwrap_or(false)
    }

    /// The user source, for the account pages.
    pub fn directory(&self) -> &Arc<dyn UserDirectory> {
        &self.users
    }

    /// The credential store, for the account pages.
    pub fn credentials(&self) -> &Arc<dyn CredentialStore> {
        &self.credentials
    }

    /// Records a successful login for the account page's list of recent logins, in the
    /// background (the login does not wait for it) and at most once an hour for the same
    /// user, address and method (a client polling every minute writes nothing new).
    pub fn record_login(self: &Arc<Self>, user: &str, ip: IpAddr, how: &'static str) {
        const AGAIN_AFTER: Duration = Duration::from_secs(3600);
        let now = Instant::now();
        {
            let mut seen = self
                .logins_recorded
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let key = (user.to_ascii_lowercase(), ip, how);
            if seen
                .get(&key)
                .is_some_and(|t| now.duration_since(*t) < AGAIN_AFTER)
            {
                return;
            }
            if seen.len() > 100_000 {
                seen.retain(|_, t| now.duration_since(*t) < AGAIN_AFTER);
            }
            seen.insert(key, now);
        }
        let me = Arc::clone(self);
        let user = user.to_string();
        tokio::task::spawn_blocking(move || {
            let address = ip.to_string();
            let r = me.credentials.modify(&user, &mut |c| {
                c.record_login(unix_now(), &address, how);
                Ok(())
            });
            if let Err(e) = r {
                tracing::warn!(user = %user, "cannot record a login: {e}");
            }
        });
    }

    /// True when bearer tokens are checked here (`[oauth]`).
    pub fn oauth_enabled(&self) -> bool {
        self.oauth.is_some()
    }

    /// The RFC 7628 error challenge for a refused token.
    pub fn oauth_challenge(&self) -> String {
        self.oauth
            .as_ref()
            .map(|o| o.challenge())
            .unwrap_or_default()
    }

    /// Checks a bearer token and maps the user its claim names to a local user: the name
    /// as it is, else, for `user@domain` with a local domain, the local part. A user the
    /// client named must be that same user.
    async fn verify_bearer(&self, token: &[u8], named: Option<&str>) -> Verdict {
        let Some(oauth) = &self.oauth else {
            return Verdict::Invalid;
        };
        let token = std::str::from_utf8(token).unwrap_or_default();
        let claimed = match oauth.check(token).await {
            crate::oauth::TokenCheck::Valid(u) => u,
            crate::oauth::TokenCheck::Invalid(why) => {
                tracing::info!("bearer token refused: {why}");
                return Verdict::Invalid;
            }
            crate::oauth::TokenCheck::Unavailable(why) => return Verdict::Unavailable(why),
        };
        let db = self.users.current();
        let entry = db.lookup(&claimed).or_else(|| {
            let (local, domain) = claimed.rsplit_once('@')?;
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            self.local_domains
                .contains(&domain)
                .then(|| db.lookup(local))
                .flatten()
        });
        let Some(entry) = entry else {
            tracing::info!(claimed = %claimed, "bearer token for a user who is not here");
            return Verdict::Invalid;
        };
        if disabled(entry) {
            tracing::info!(user = %entry.name, "login refused: the account is disabled (nologin)");
            return Verdict::Invalid;
        }
        let same =
            |n: &str| n.eq_ignore_ascii_case(&entry.name) || n.eq_ignore_ascii_case(&claimed);
        if named.is_some_and(|n| !n.is_empty() && !same(n)) {
            tracing::info!(claimed = %claimed, "bearer token presented for another user");
            return Verdict::Invalid;
        }
        Verdict::Valid(entry.name.clone())
    }

    /// True when SCRAM-SHA-256 can succeed for some user (memory only).
    pub fn scram_possible(&self) -> bool {
        self.users().map(|d| d.any_scram()).unwrap_or(false)
    }

    /// The salt and iteration count a SCRAM exchange for `user` announces: the user's
    /// own, or for a name without a verifier (unknown, or another scheme) a salt made
    /// from the name and this process's secret, the same at every attempt, so the reply
    /// does not tell which names exist. Memory only.
    pub fn scram_params(&self, user: &str) -> (Vec<u8>, u32) {
        let own = self.users().ok().and_then(|db| {
            db.lookup(user)
                .and_then(|e| buzon_auth::scram_verifier(&e.password))
        });
        match own {
            Some(v) => (v.salt, v.iterations),
            None => {
                use sha2::Digest;
                let mut h = sha2::Sha256::new();
                h.update(self.scram_secret);
                h.update(user.to_ascii_lowercase().as_bytes());
                let salt = h.finalize()[..16].to_vec();
                (salt, buzon_auth::SCRAM_ITERATIONS)
            }
        }
    }

    /// The server-final message of a SCRAM login `user` passed: `v=` the server's
    /// signature over `auth_message`. Memory only.
    pub fn scram_server_final(&self, user: &str, auth_message: &str) -> Option<String> {
        let db = self.users().ok()?;
        let v = buzon_auth::scram_verifier(&db.lookup(user)?.password)?;
        Some(buzon_pop3_proto::sasl::scram_server_final(
            &v.server_key,
            auth_message,
        ))
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

    /// Records the outcome; returns the delay before a failure reply, counted from the
    /// moment the check began (the reply is due then, not that long after the check).
    /// `exemptible` is false when the client's own address is unknown (PROXY `LOCAL` or
    /// `UNKNOWN`), so no network is exempt.
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

    /// Checks a credential. A password the cache remembers is answered at once, on the
    /// runtime (no hash, no slot). Anything else is checked on a blocking thread, with at
    /// most `verify_concurrency` verifications at once so a login flood cannot starve
    /// running sessions; an attempt that gets no slot within `verify_queue_timeout` is
    /// [`Verdict::Unavailable`].
    /// `client` is recorded as the last address of an app password that logs in.
    pub async fn verify(
        self: &Arc<Self>,
        user: String,
        credential: Credential,
        client: Option<IpAddr>,
    ) -> Verdict {
        self.verify_as(user, credential, client, true).await
    }

    /// The main password only, never an app password: the account's own web page, where
    /// two-step verification asks for a code after it ([`Verdict::TwoStepRequired`]).
    pub async fn verify_main_password(
        self: &Arc<Self>,
        user: String,
        password: buzon_pop3_proto::Secret,
        client: Option<IpAddr>,
    ) -> Verdict {
        self.verify_as(user, Credential::Password(password), client, false)
            .await
    }

    async fn verify_as(
        self: &Arc<Self>,
        user: String,
        credential: Credential,
        client: Option<IpAddr>,
        app_passwords: bool,
    ) -> Verdict {
        // Tokens are checked against the issuer, not the users' passwords: no hash, no
        // verification slot. Two-step accounts take them (they are not the main password).
        if let Credential::Bearer { token, user: named } = &credential {
            return self.verify_bearer(token.expose(), named.as_deref()).await;
        }
        if let Credential::Password(p) = &credential {
            if let Some(name) = self.cached(&user, p.expose()) {
                return Verdict::Valid(name);
            }
        }
        let permit = match tokio::time::timeout(
            self.verify_queue_timeout,
            self.verify_slots.acquire(),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Verdict::Unavailable("server shutting down".into()),
            Err(_) => {
                return Verdict::Unavailable(format!(
                    "all {} password verification slots stayed busy for {:?} \
                         (a flood of logins, or auth.verify_concurrency too low for the \
                         load; auth.verify_queue_timeout sets the wait)",
                    self.verify_concurrency, self.verify_queue_timeout
                ))
            }
        };
        let me = Arc::clone(self);
        let verdict = tokio::task::spawn_blocking(move || {
            me.verify_blocking(&user, &credential, client, app_passwords)
        })
        .await;
        drop(permit);
        match verdict {
            Ok(v) => v,
            Err(e) => Verdict::Unavailable(format!("verification task failed: {e}")),
        }
    }

    /// The canonical name when the cache remembers `password` for `user` against the
    /// user's current stored password. Memory only.
    fn cached(&self, user: &str, password: &[u8]) -> Option<String> {
        let db = self.users().ok()?;
        buzon_auth::validate_username(user).ok()?;
        let entry = db.lookup(user)?;
        // Two-step accounts never log in from the cache: their main password alone is
        // not enough, and an app password is checked against the credential store.
        // Disabled accounts do not log in at all.
        if two_step_on(entry) || disabled(entry) {
            return None;
        }
        let hit = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(
            Instant::now(),
            &entry.name,
            password,
            &entry.password,
        );
        hit.then(|| entry.name.clone())
    }

    fn verify_blocking(
        &self,
        user: &str,
        credential: &Credential,
        client: Option<IpAddr>,
        app_passwords: bool,
    ) -> Verdict {
        // Like Dovecot's passwd-file, look at the source at each lookup that needs a
        // hash: a user added a moment ago can log in at once. A source that cannot be
        // reached (the database is down) is a temporary failure, never "wrong password".
        if let Err(why) = self.users.refresh() {
            return Verdict::Unavailable(why);
        }
        let db = match self.users() {
            Ok(db) => db,
            Err(e) => return Verdict::Unavailable(e),
        };
        let entry = buzon_auth::validate_username(user)
            .ok()
            .and_then(|()| db.lookup(user));
        let Some(entry) = entry else {
            if let Credential::Password(p) = credential {
                self.dummy.verify(p.expose());
            }
            return Verdict::Invalid;
        };
        if disabled(entry) {
            // Checked as any failure would be, so the reply tells nothing more.
            if let Credential::Password(p) = credential {
                self.dummy.verify(p.expose());
            }
            tracing::info!(user = %entry.name, "login refused: the account is disabled (nologin)");
            return Verdict::Invalid;
        }
        let two_step = two_step_on(entry);
        if let (Credential::Password(p), true) = (credential, app_passwords) {
            match self.app_password(entry, p.expose(), client) {
                Ok(true) => return Verdict::Valid(entry.name.clone()),
                Ok(false) => {}
                Err(why) => return Verdict::Unavailable(why),
            }
        }
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
                        Ok(true) if two_step => true,
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
            Credential::Scram {
                auth_message,
                proof,
                binding_ok,
            } => match buzon_auth::scram_verifier(&entry.password) {
                Some(v) => {
                    // Both checks always run, so a relay's wrong binding costs what a
                    // wrong proof costs.
                    let proof_ok =
                        buzon_pop3_proto::sasl::scram_proof_ok(&v.stored_key, auth_message, proof);
                    proof_ok && *binding_ok
                }
                None => false,
            },
            Credential::Bearer { .. } => false,
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
        match (ok, two_step) {
            (true, false) => Verdict::Valid(entry.name.clone()),
            (true, true) => Verdict::TwoStepRequired,
            (false, _) => Verdict::Invalid,
        }
    }

    /// Whether `password` is one of the user's app passwords allowed for POP3 (a password
    /// of another shape is not looked up at all). A match records its use (at most once a
    /// minute per address). `Err`: the credential store cannot be read now.
    fn app_password(
        &self,
        entry: &UserEntry,
        password: &[u8],
        client: Option<IpAddr>,
    ) -> Result<bool, String> {
        let Some(letters) = buzon_auth::app_password_letters(password) else {
            return Ok(false);
        };
        let mut creds = self.credentials.load(&entry.name)?;
        let now = unix_now();
        let address = client.map(|ip| ip.to_string());
        let Some(app) = creds.app_password_mut(&letters) else {
            return Ok(false);
        };
        if !app.scope.allows_pop3() {
            return Ok(false);
        }
        if app.record_use(now, address.as_deref()) {
            let recorded = self.credentials.modify(&entry.name, &mut |c| {
                if let Some(a) = c.app_password_mut(&letters) {
                    a.record_use(now, address.as_deref());
                }
                Ok(())
            });
            if let Err(e) = recorded {
                tracing::warn!(user = %entry.name, "cannot record the use of an app password: {e}");
            }
        }
        Ok(true)
    }
}

/// True when the user's entry turns two-step verification on ([`buzon_auth::TWO_STEP_FIELD`]):
/// any value but `off`, `no`, `false` or `0`, so a typo errs on the safe side.
pub fn two_step_on(entry: &UserEntry) -> bool {
    entry
        .extra_field(buzon_auth::TWO_STEP_FIELD)
        .is_some_and(|v| {
            !matches!(
                v.to_ascii_lowercase().as_str(),
                "off" | "no" | "false" | "0"
            )
        })
}

/// True when the account is disabled (Dovecot's `nologin` extra field, any value).
pub fn disabled(entry: &UserEntry) -> bool {
    entry.extra_field(buzon_auth::NOLOGIN_FIELD).is_some()
}

impl Authenticator {
    /// The throttle's current failures, for the admin view.
    pub fn failing(&self, limit: usize) -> Vec<(&'static str, String, u32, Duration)> {
        self.throttle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .failing(Instant::now(), limit)
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
