//! Who is connected: counts per remote address and overall (connection limits), and the
//! sessions that hold each user's mailbox (per-user limits, LOGIN-DELAY, and the lock
//! lease that lets a new login take over from a session that went silent).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use buzon_auth::IpNet;
use tokio::sync::Notify;

/// A session's entry while it holds (or tries for) a user's mailbox.
#[derive(Debug)]
pub struct UserSlot {
    pub user: String,
    /// Milliseconds since the registry's epoch at the session's last activity.
    last_activity: AtomicU64,
    /// Wakes the session to end itself without applying deletions.
    pub kick: Notify,
    epoch: Instant,
}

impl UserSlot {
    pub fn touch(&self) {
        self.last_activity
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
    pub fn idle_for(&self) -> Duration {
        let last = self.last_activity.load(Ordering::Relaxed);
        Duration::from_millis((self.epoch.elapsed().as_millis() as u64).saturating_sub(last))
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Per client network (see [`Registry::network`]).
    per_ip: HashMap<IpAddr, usize>,
    total: usize,
    users: HashMap<String, Vec<Arc<UserSlot>>>,
    last_login: HashMap<String, Instant>,
}

/// Shared bookkeeping; every method takes the lock briefly and never across an await.
#[derive(Debug)]
pub struct Registry {
    inner: Mutex<Inner>,
    epoch: Instant,
    /// IPv6 clients are counted per network of this prefix length: one customer usually
    /// holds a whole /64 and could otherwise open `max_per_ip` connections from each of
    /// its addresses.
    ipv6_prefix: u8,
}

/// Why a new connection is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Total,
    PerIp,
}

/// Releases a connection's count when dropped.
#[derive(Debug)]
pub struct ConnGuard {
    registry: Arc<Registry>,
    net: IpAddr,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut g = self.registry.lock();
        g.total = g.total.saturating_sub(1);
        if let Some(n) = g.per_ip.get_mut(&self.net) {
            *n -= 1;
            if *n == 0 {
                g.per_ip.remove(&self.net);
            }
        }
    }
}

/// Removes a session's user slot when dropped.
#[derive(Debug)]
pub struct SlotGuard {
    registry: Arc<Registry>,
    pub slot: Arc<UserSlot>,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let mut g = self.registry.lock();
        if let Some(v) = g.users.get_mut(&self.slot.user) {
            v.retain(|s| !Arc::ptr_eq(s, &self.slot));
            if v.is_empty() {
                g.users.remove(&self.slot.user);
            }
        }
    }
}

impl Registry {
    /// A registry counting IPv6 clients per network of `ipv6_prefix` bits (1–128).
    pub fn new(ipv6_prefix: u8) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner::default()),
            epoch: Instant::now(),
            ipv6_prefix,
        })
    }

    /// The network `ip` is counted in, as its network address: the address itself for
    /// IPv4 (IPv4-mapped IPv6 included), its `ipv6_prefix` network for IPv6. The
    /// throttle's [`IpNet`] does the masking and the IPv4-mapped conversion.
    fn network(&self, ip: IpAddr) -> IpAddr {
        let prefix = match ip {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => self.ipv6_prefix.min(128),
            IpAddr::V6(_) => 128,
            IpAddr::V4(_) => 32,
        };
        // The prefix is within the family's length, so this cannot fail.
        IpNet::new(ip, prefix).map_or(ip, |n| n.addr())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the counts inconsistent in a way
        // that matters more than refusing all service, so recover the guard.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a new connection, or says which limit refuses it.
    pub fn connect(
        self: &Arc<Self>,
        ip: IpAddr,
        max_total: usize,
        max_per_ip: usize,
    ) -> Result<ConnGuard, Refusal> {
        let mut g = self.lock();
        if g.total >= max_total {
            return Err(Refusal::Total);
        }
        let net = self.network(ip);
        let n = g.per_ip.get(&net).copied().unwrap_or(0);
        if n >= max_per_ip {
            return Err(Refusal::PerIp);
        }
        g.total += 1;
        g.per_ip.insert(net, n + 1);
        Ok(ConnGuard {
            registry: Arc::clone(self),
            net,
        })
    }

    pub fn total(&self) -> usize {
        self.lock().total
    }

    /// Registers a session for `user` unless `max` sessions already are.
    pub fn enter_user(self: &Arc<Self>, user: &str, max: usize) -> Option<SlotGuard> {
        let mut g = self.lock();
        let v = g.users.entry(user.to_string()).or_default();
        if v.len() >= max {
            return None;
        }
        let slot = Arc::new(UserSlot {
            user: user.to_string(),
            last_activity: AtomicU64::new(0),
            kick: Notify::new(),
            epoch: self.epoch,
        });
        slot.touch();
        v.push(Arc::clone(&slot));
        Some(SlotGuard {
            registry: Arc::clone(self),
            slot,
        })
    }

    /// Other sessions of `user` idle for longer than `lease`: candidates to take over from.
    pub fn stale_holders(
        &self,
        user: &str,
        me: &Arc<UserSlot>,
        lease: Duration,
    ) -> Vec<Arc<UserSlot>> {
        let g = self.lock();
        g.users
            .get(user)
            .map(|v| {
                v.iter()
                    .filter(|s| !Arc::ptr_eq(s, me) && s.idle_for() >= lease)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// RFC 2449 §6.5 LOGIN-DELAY: seconds left before `user` may log in again, if any;
    /// otherwise records this login.
    pub fn login_delay(&self, user: &str, delay: Duration) -> Option<Duration> {
        let mut g = self.lock();
        let now = Instant::now();
        if let Some(last) = g.last_login.get(user) {
            let since = now.duration_since(*last);
            if since < delay {
                return Some(delay - since);
            }
        }
        g.last_login.insert(user.to_string(), now);
        if g.last_login.len() > 100_000 {
            g.last_login.retain(|_, t| now.duration_since(*t) < delay);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| panic!("{s}"))
    }

    #[test]
    fn ipv6_clients_are_counted_per_network_and_ipv4_per_address() {
        let r = Registry::new(64);
        // Two addresses of one /64 share one count.
        let a = r.connect(ip("2001:db8:1:2::1"), 100, 1);
        assert!(a.is_ok());
        assert_eq!(
            r.connect(ip("2001:db8:1:2:ffff::9"), 100, 1).err(),
            Some(Refusal::PerIp)
        );
        // The next /64 has its own.
        let b = r.connect(ip("2001:db8:1:3::1"), 100, 1);
        assert!(b.is_ok());
        // IPv4 addresses are counted apart, also when written IPv4-mapped.
        let c = r.connect(ip("127.0.0.2"), 100, 1);
        let d = r.connect(ip("127.0.0.3"), 100, 1);
        assert!(c.is_ok() && d.is_ok());
        assert_eq!(
            r.connect(ip("::ffff:127.0.0.2"), 100, 1).err(),
            Some(Refusal::PerIp)
        );
        assert!(r.connect(ip("::ffff:127.0.0.4"), 100, 1).is_ok());
        // Closing frees the network's count.
        drop(a);
        assert!(r.connect(ip("2001:db8:1:2::7"), 100, 1).is_ok());

        // With a prefix of 128 every IPv6 address is counted apart; with 48 a /48 shares.
        let r = Registry::new(128);
        let _e = r.connect(ip("2001:db8::1"), 100, 1);
        assert!(r.connect(ip("2001:db8::2"), 100, 1).is_ok());
        let r = Registry::new(48);
        let _f = r.connect(ip("2001:db8:0:1::1"), 100, 1);
        assert_eq!(
            r.connect(ip("2001:db8:0:2::1"), 100, 1).err(),
            Some(Refusal::PerIp)
        );
        assert!(r.total() == 1);
    }
}
