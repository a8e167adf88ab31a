//! A short-lived cache of successful password verifications, so a client
//! that logs in every minute does not pay for Argon2 every minute.
//!
//! Keys are (user, SHA-256(process salt ‖ password)); the password itself is
//! never stored. An entry also remembers the stored hash it was verified
//! against and only counts while the user's current stored hash is that same
//! string, so changing a password invalidates it at once. Failures are never
//! cached. Trade-off: a memory dump of the process exposes fast salted
//! SHA-256 digests of recently used passwords for up to the TTL.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Default time an entry stays valid.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(60);
/// Default maximum number of entries.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

#[derive(Debug, Clone)]
struct Entry {
    stored: String,
    expires: Instant,
}

/// Cache of recent successful logins. Not synchronised: the server wraps it
/// in a mutex. Use the user's canonical name ([`crate::UserEntry::name`]) as
/// the key so `Alice` and `alice` share one entry.
pub struct AuthCache {
    salt: [u8; 32],
    ttl: Duration,
    capacity: usize,
    entries: HashMap<(String, [u8; 32]), Entry>,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .field("len", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl Default for AuthCache {
    fn default() -> Self {
        AuthCache::new(DEFAULT_CACHE_TTL, DEFAULT_CACHE_CAPACITY)
    }
}

impl AuthCache {
    /// A cache whose entries live `ttl` and which holds at most `capacity`
    /// entries. A zero TTL or capacity disables caching.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        let mut salt = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        AuthCache {
            salt,
            ttl,
            capacity,
            entries: HashMap::new(),
        }
    }

    fn digest(&self, password: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(password);
        h.finalize().into()
    }

    /// True when `user` logged in with exactly `password` less than the TTL
    /// ago and `current_stored` (the user's stored password now) is the
    /// string it was verified against. Expired or outdated entries are removed.
    pub fn get(&mut self, now: Instant, user: &str, password: &[u8], current_stored: &str) -> bool {
        let key = (user.to_string(), self.digest(password));
        let Some(entry) = self.entries.get(&key) else {
            return false;
        };
        if now < entry.expires && entry.stored == current_stored {
            return true;
        }
        self.entries.remove(&key);
        false
    }

    /// Records a successful verification of `password` against `stored`.
    /// Call only after [`crate::verify_password`] returned `Ok(true)`.
    pub fn insert(&mut self, now: Instant, user: &str, password: &[u8], stored: &str) {
        if self.capacity == 0 || self.ttl.is_zero() {
            return;
        }
        let Some(expires) = now.checked_add(self.ttl) else {
            return;
        };
        let key = (user.to_string(), self.digest(password));
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.make_room(now);
        }
        self.entries.insert(
            key,
            Entry {
                stored: stored.to_string(),
                expires,
            },
        );
    }

    /// Forgets every entry of `user` (e.g. after `buzon user remove`).
    pub fn remove_user(&mut self, user: &str) {
        self.entries.retain(|(u, _), _| u != user);
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Number of entries, expired ones included until they are pruned.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops expired entries.
    pub fn prune(&mut self, now: Instant) {
        self.entries.retain(|_, e| now < e.expires);
    }

    /// Drops expired entries; if the cache is still full, drops the tenth
    /// closest to expiry (amortised: not a scan per insert).
    fn make_room(&mut self, now: Instant) {
        self.prune(now);
        if self.entries.len() < self.capacity {
            return;
        }
        let n = (self.capacity / 10).max(1).min(self.entries.len());
        let mut times: Vec<Instant> = self.entries.values().map(|e| e.expires).collect();
        let (_, &mut cutoff, _) = times.select_nth_unstable(n - 1);
        let older = times.iter().filter(|&&t| t < cutoff).count();
        let mut ties = n - older;
        self.entries.retain(|_, e| {
            if e.expires < cutoff {
                false
            } else if e.expires == cutoff && ties > 0 {
                ties -= 1;
                false
            } else {
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "{ARGON2ID}$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaDE";
    const H2: &str = "{ARGON2ID}$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaDI";

    #[test]
    fn hit_miss_and_invalidation() {
        let t0 = Instant::now();
        let mut c = AuthCache::new(Duration::from_secs(60), 100);
        assert!(!c.get(t0, "alice", b"pw", H1));
        c.insert(t0, "alice", b"pw", H1);
        assert!(c.get(t0 + Duration::from_secs(59), "alice", b"pw", H1));
        assert!(!c.get(t0, "alice", b"other", H1), "wrong password");
        assert!(!c.get(t0, "bob", b"pw", H1), "other user");
        // Password changed: the entry no longer counts and is dropped.
        assert!(!c.get(t0, "alice", b"pw", H2));
        assert!(c.is_empty());
        c.insert(t0, "alice", b"pw", H1);
        assert!(
            !c.get(t0 + Duration::from_secs(60), "alice", b"pw", H1),
            "expired"
        );
        assert!(c.is_empty());
    }

    #[test]
    fn capacity_is_bounded() {
        let t0 = Instant::now();
        let mut c = AuthCache::new(Duration::from_secs(60), 50);
        for i in 0..500u64 {
            c.insert(t0 + Duration::from_millis(i), &format!("u{i}"), b"pw", H1);
            assert!(c.len() <= 50);
        }
        // The newest survive.
        assert!(c.get(t0 + Duration::from_millis(500), "u499", b"pw", H1));
        assert!(!c.get(t0 + Duration::from_millis(500), "u0", b"pw", H1));
    }

    #[test]
    fn disabled_when_zero() {
        let t0 = Instant::now();
        let mut c = AuthCache::new(Duration::ZERO, 100);
        c.insert(t0, "alice", b"pw", H1);
        assert!(!c.get(t0, "alice", b"pw", H1));
        let mut c = AuthCache::new(Duration::from_secs(1), 0);
        c.insert(t0, "alice", b"pw", H1);
        assert!(c.is_empty());
    }

    #[test]
    fn salts_differ_per_cache() {
        let a = AuthCache::default();
        let b = AuthCache::default();
        assert_ne!(a.digest(b"pw"), b.digest(b"pw"));
        assert!(!format!("{a:?}").contains("salt"));
    }
}
