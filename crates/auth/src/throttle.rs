//! Login throttling: counts failed logins per remote network and per user
//! name and turns them into delays.
//!
//! Pure bookkeeping: the caller passes the clock in and does the sleeping.
//! Nothing here blocks, sleeps or locks; the server wraps a [`Throttle`] in a
//! mutex. Memory is bounded by [`MAX_TRACKED_KEYS`].

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::error::AuthError;

/// Default bound on the number of tracked IP and user keys together.
pub const MAX_TRACKED_KEYS: usize = 100_000;

/// An IP network in CIDR notation, e.g. `127.0.0.0/8` or `::1/128`.
///
/// Host bits are cleared on construction. IPv4-mapped IPv6 networks
/// (`::ffff:10.0.0.0/104`) are stored as IPv4, and [`IpNet::contains`] maps
/// IPv4-mapped addresses to IPv4 too, so both spellings of a client match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// A network from an address and prefix length (≤ 32 for IPv4, ≤ 128 for IPv6).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<IpNet, AuthError> {
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) if prefix >= 96 => (IpAddr::V4(v4), prefix - 96),
                _ => (addr, prefix),
            },
            IpAddr::V4(_) => (addr, prefix),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(AuthError::InvalidNet {
                input: format!("{addr}/{prefix}"),
                reason: format!("the prefix length must be at most {max}"),
            });
        }
        Ok(IpNet {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// The network address (host bits zero).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// True when `ip` lies inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

impl FromStr for IpNet {
    type Err = AuthError;

    /// Parses `addr/prefix` or a bare address (a single host).
    fn from_str(s: &str) -> Result<IpNet, AuthError> {
        let bad = |reason: &str| AuthError::InvalidNet {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => {
                let prefix = if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
                    p.parse::<u8>()
                        .map_err(|_| bad("the prefix length is too large"))?
                } else {
                    return Err(bad("the prefix length must be a decimal number"));
                };
                (a, Some(prefix))
            }
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| bad("not an IPv4 or IPv6 address"))?;
        let prefix = prefix.unwrap_or(if addr.is_ipv4() { 32 } else { 128 });
        IpNet::new(addr, prefix).map_err(|e| match e {
            AuthError::InvalidNet { reason, .. } => bad(&reason),
            other => other,
        })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// IPv4-mapped IPv6 addresses become IPv4; everything else is unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

/// Throttling policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Every failed login's reply is delayed this much (default 2 s).
    pub failure_delay: Duration,
    /// First growing penalty, doubled with each further failure (default 2 s).
    pub penalty_base: Duration,
    /// Cap of the growing penalty (default 60 s).
    pub penalty_max: Duration,
    /// Failures per key before the growing penalty starts (default 3).
    pub free_failures: u32,
    /// A key with no failure for this long is forgotten (default 15 min).
    pub forget_after: Duration,
    /// Clients exempt from penalties; their failures are not counted at all,
    /// not even against the user name (default: none).
    pub trusted: Vec<IpNet>,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            failure_delay: Duration::from_secs(2),
            penalty_base: Duration::from_secs(2),
            penalty_max: Duration::from_secs(60),
            free_failures: 3,
            forget_after: Duration::from_secs(15 * 60),
            trusted: Vec::new(),
        }
    }
}

impl ThrottleConfig {
    /// True when `ip` is in a trusted network.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(ip))
    }
}

/// What failures are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    V4(u32),
    /// The /64 prefix: one IPv6 client usually controls a whole /64.
    V6(u64),
    /// ASCII-lowercased user name, whether or not the user exists.
    User(String),
}

impl Key {
    fn ip(ip: IpAddr) -> Key {
        match canonical(ip) {
            IpAddr::V4(v4) => Key::V4(u32::from(v4)),
            IpAddr::V6(v6) => Key::V6((u128::from(v6) >> 64) as u64),
        }
    }
    fn user(name: &str) -> Key {
        Key::User(name.to_ascii_lowercase())
    }
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    failures: u32,
    last_failure: Instant,
    /// Earliest time the next penalised attempt for this key may be checked (see
    /// [`Throttle::admit`]).
    next_slot: Option<Instant>,
}

/// The throttle's decision on a login attempt ([`Throttle::admit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Check the credentials after waiting this long (zero: at once).
    After(Duration),
    /// Attempts for this network or user name are already queued for longer than
    /// `penalty_max`: answer without checking the credentials.
    Refused,
}

/// Failure counters and the delays they imply.
///
/// Penalty for a key with `n` recent failures: zero while
/// `n < free_failures`, then `penalty_base × 2^(n − free_failures)` capped at
/// `penalty_max`. The delay before an attempt is the larger of the remote
/// network's and the user name's penalty. The user counter is kept for names
/// that do not exist too, so unknown and known users are timed alike; the
/// price is that someone failing on a real name slows that user's logins
/// from untrusted addresses.
#[derive(Debug, Clone)]
pub struct Throttle {
    cfg: ThrottleConfig,
    counters: HashMap<Key, Counter>,
    max_keys: usize,
}

impl Throttle {
    /// A throttle with no recorded failures and room for [`MAX_TRACKED_KEYS`] keys.
    pub fn new(cfg: ThrottleConfig) -> Self {
        Throttle {
            cfg,
            counters: HashMap::new(),
            max_keys: MAX_TRACKED_KEYS,
        }
    }

    /// Changes the bound on tracked keys (at least 1).
    pub fn with_max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys.max(1);
        self
    }

    /// The policy in force.
    pub fn config(&self) -> &ThrottleConfig {
        &self.cfg
    }

    /// Delay to impose *before* verifying a login attempt from `ip` for
    /// `user`: zero for trusted clients and when there are no recent failures.
    pub fn delay_before(&mut self, now: Instant, ip: IpAddr, user: Option<&str>) -> Duration {
        if self.cfg.is_trusted(ip) {
            return Duration::ZERO;
        }
        let by_ip = self.penalty(self.failures(now, &Key::ip(ip)));
        let by_user = user.map_or(Duration::ZERO, |u| {
            self.penalty(self.failures(now, &Key::user(u)))
        });
        by_ip.max(by_user)
    }

    /// Decides on a login attempt from `ip` for `user` and reserves its time slot.
    ///
    /// While a key (the client's network, the user name) is below `free_failures`
    /// recent failures, attempts go ahead at once. Past that, each key admits one attempt
    /// per current penalty, however many connections the attempts arrive on: an attempt
    /// waits for the later of "now + penalty" and the key's next free slot, and the slot
    /// after it moves one penalty further. An attempt that would have to wait longer than
    /// `penalty_max` is [`Admission::Refused`], so a burst of parallel guesses cannot
    /// queue up work either. Trusted clients are always admitted at once.
    pub fn admit(&mut self, now: Instant, ip: IpAddr, user: Option<&str>) -> Admission {
        if self.cfg.is_trusted(ip) {
            return Admission::After(Duration::ZERO);
        }
        let mut keys = vec![Key::ip(ip)];
        if let Some(u) = user {
            keys.push(Key::user(u));
        }
        let mut at = now;
        let mut penalised = Vec::new();
        for key in keys {
            let p = self.penalty(self.failures(now, &key));
            if p.is_zero() {
                continue;
            }
            let Some(earliest) = now.checked_add(p) else {
                return Admission::Refused;
            };
            let queued = self
                .counters
                .get(&key)
                .and_then(|c| c.next_slot)
                .unwrap_or(now);
            at = at.max(earliest).max(queued);
            penalised.push((key, p));
        }
        if penalised.is_empty() {
            return Admission::After(Duration::ZERO);
        }
        let wait = at.saturating_duration_since(now);
        if wait > self.cfg.penalty_max {
            return Admission::Refused;
        }
        for (key, p) in penalised {
            if let Some(c) = self.counters.get_mut(&key) {
                c.next_slot = at.checked_add(p);
            }
        }
        Admission::After(wait)
    }

    /// Counts one failed login against the client's network and, when given,
    /// the user name. Ignored for trusted clients.
    pub fn record_failure(&mut self, now: Instant, ip: IpAddr, user: Option<&str>) {
        if self.cfg.is_trusted(ip) {
            return;
        }
        self.bump(now, Key::ip(ip));
        if let Some(u) = user {
            self.bump(now, Key::user(u));
        }
    }

    /// Runs `f` with no network exempt, for a client whose own address is unknown (a
    /// proxy sent `LOCAL` or `UNKNOWN`, so the address at hand is the proxy's): it is
    /// counted and delayed even when the proxy's address is in a trusted network.
    pub fn without_exemptions<R>(&mut self, f: impl FnOnce(&mut Throttle) -> R) -> R {
        let trusted = std::mem::take(&mut self.cfg.trusted);
        let r = f(self);
        self.cfg.trusted = trusted;
        r
    }

    /// A successful login clears the user's counter and the client's.
    pub fn record_success(&mut self, _now: Instant, ip: IpAddr, user: &str) {
        self.counters.remove(&Key::ip(ip));
        self.counters.remove(&Key::user(user));
    }

    /// How long to delay the reply to every failed login.
    pub fn failure_delay(&self) -> Duration {
        self.cfg.failure_delay
    }

    /// Number of keys currently tracked.
    pub fn tracked(&self) -> usize {
        self.counters.len()
    }

    /// Drops counters idle for `forget_after`, then, if more than the key
    /// bound remain, the ones with the oldest failures.
    pub fn prune(&mut self, now: Instant) {
        let forget = self.cfg.forget_after;
        self.counters
            .retain(|_, c| now.saturating_duration_since(c.last_failure) < forget);
        if self.counters.len() > self.max_keys {
            let excess = self.counters.len() - self.max_keys;
            self.evict_oldest(excess);
        }
    }

    fn failures(&self, now: Instant, key: &Key) -> u32 {
        match self.counters.get(key) {
            Some(c) if now.saturating_duration_since(c.last_failure) < self.cfg.forget_after => {
                c.failures
            }
            _ => 0,
        }
    }

    fn penalty(&self, failures: u32) -> Duration {
        let Some(exp) = failures.checked_sub(self.cfg.free_failures) else {
            return Duration::ZERO;
        };
        let factor = 1u32.checked_shl(exp).unwrap_or(0);
        if factor == 0 {
            return self.cfg.penalty_max;
        }
        self.cfg
            .penalty_base
            .checked_mul(factor)
            .map_or(self.cfg.penalty_max, |d| d.min(self.cfg.penalty_max))
    }

    fn bump(&mut self, now: Instant, key: Key) {
        let recent = self.failures(now, &key);
        if recent == 0 && !self.counters.contains_key(&key) && self.counters.len() >= self.max_keys
        {
            self.make_room(now);
        }
        let next_slot = self.counters.get(&key).and_then(|c| c.next_slot);
        self.counters.insert(
            key,
            Counter {
                failures: recent.saturating_add(1),
                last_failure: now,
                next_slot,
            },
        );
    }

    /// Frees space for one new key. When forgetting idle keys is not enough,
    /// a tenth of the bound goes at once, so a flood of new keys costs
    /// amortised constant time per key rather than a scan each.
    fn make_room(&mut self, now: Instant) {
        self.prune(now);
        if self.counters.len() >= self.max_keys {
            let evict = (self.max_keys / 10)
                .max(1)
                .max(self.counters.len() + 1 - self.max_keys);
            self.evict_oldest(evict);
        }
    }

    /// Removes exactly `n` keys (or all), the ones with the oldest last failure.
    fn evict_oldest(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        if n >= self.counters.len() {
            self.counters.clear();
            return;
        }
        let mut times: Vec<Instant> = self.counters.values().map(|c| c.last_failure).collect();
        let (_, &mut cutoff, _) = times.select_nth_unstable(n - 1);
        // Strictly older keys all go; ties at the cutoff go until n are gone.
        let older = times.iter().filter(|&&t| t < cutoff).count();
        let mut ties_to_drop = n - older;
        self.counters.retain(|_, c| {
            if c.last_failure < cutoff {
                false
            } else if c.last_failure == cutoff && ties_to_drop > 0 {
                ties_to_drop -= 1;
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    fn net(s: &str) -> IpNet {
        match s.parse() {
            Ok(n) => n,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn ipnet_parse_and_contains() {
        let n = net("127.0.0.0/8");
        assert!(n.contains(ip("127.1.2.3")));
        assert!(!n.contains(ip("128.0.0.1")));
        assert!(n.contains(ip("::ffff:127.0.0.1")));
        assert!(!n.contains(ip("::1")));
        let one = net("::1/128");
        assert!(one.contains(ip("::1")));
        assert!(!one.contains(ip("::2")));
        assert!(!one.contains(ip("0.0.0.1")));
        let host = net("10.0.0.1");
        assert_eq!(host.to_string(), "10.0.0.1/32");
        assert!(host.contains(ip("10.0.0.1")));
        assert!(!host.contains(ip("10.0.0.2")));
        assert_eq!(net("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(net("fd00::1/8").to_string(), "fd00::/8");
        assert!(net("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(!net("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(net("::/0").contains(ip("2001:db8::1")));
        let mapped = net("::ffff:10.0.0.0/104");
        assert_eq!(mapped.to_string(), "10.0.0.0/8");
        assert!(mapped.contains(ip("10.9.9.9")));
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/x",
            "nope",
            "10.0.0.0/+8",
            "10.0.0.0/999",
        ] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    fn cfg() -> ThrottleConfig {
        ThrottleConfig::default()
    }

    #[test]
    fn growing_penalty_numbers() {
        let t0 = Instant::now();
        let mut t = Throttle::new(cfg());
        let a = ip("192.0.2.1");
        let mut seen = Vec::new();
        for i in 0..10u64 {
            let now = t0 + Duration::from_secs(i);
            seen.push(t.delay_before(now, a, None).as_secs());
            t.record_failure(now, a, None);
        }
        assert_eq!(seen, [0, 0, 0, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(t.failure_delay(), Duration::from_secs(2));
    }

    #[test]
    fn parallel_attempts_get_one_slot_per_penalty_and_the_overflow_is_refused() {
        let t0 = Instant::now();
        let mut t = Throttle::new(cfg());
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            t.record_failure(t0, a, Some("alice"));
        }
        // A burst of attempts at the same instant: penalty 2 s, penalty_max 60 s.
        let burst: Vec<Admission> = (0..32).map(|_| t.admit(t0, a, Some("alice"))).collect();
        let waits: Vec<u64> = burst
            .iter()
            .filter_map(|b| match b {
                Admission::After(d) => Some(d.as_secs()),
                Admission::Refused => None,
            })
            .collect();
        assert_eq!(waits, (1..=30).map(|k| 2 * k).collect::<Vec<u64>>());
        assert_eq!(
            burst.iter().filter(|b| **b == Admission::Refused).count(),
            2
        );
        // Another network guessing another name is not held up; the same name is.
        assert_eq!(
            t.admit(t0, ip("198.51.100.1"), Some("bob")),
            Admission::After(Duration::ZERO)
        );
        assert_eq!(
            t.admit(t0, ip("198.51.100.1"), Some("alice")),
            Admission::Refused
        );
        // One attempt at a time, each after the reply to the last, waits one penalty.
        let mut s = Throttle::new(cfg());
        let mut now = t0;
        for _ in 0..3 {
            s.record_failure(now, a, None);
        }
        let mut waits = Vec::new();
        for _ in 0..4 {
            let Admission::After(d) = s.admit(now, a, None) else {
                panic!("refused")
            };
            waits.push(d.as_secs());
            now += d;
            s.record_failure(now, a, None);
            now += s.failure_delay();
        }
        // Exactly the growing penalty, as without parallel attempts.
        assert_eq!(waits, [2, 4, 8, 16]);
        // Trusted networks are never queued.
        let mut c = cfg();
        c.trusted = vec![net("10.0.0.0/8")];
        let mut tr = Throttle::new(c);
        for _ in 0..10 {
            tr.record_failure(t0, ip("10.1.1.1"), Some("alice"));
            assert_eq!(
                tr.admit(t0, ip("10.1.1.1"), Some("alice")),
                Admission::After(Duration::ZERO)
            );
        }
    }

    #[test]
    fn huge_counts_saturate_at_max() {
        let t = Throttle::new(cfg());
        assert_eq!(t.penalty(u32::MAX), Duration::from_secs(60));
        assert_eq!(t.penalty(3 + 31), Duration::from_secs(60));
        assert_eq!(t.penalty(3 + 32), Duration::from_secs(60));
    }

    #[test]
    fn eviction_removes_exactly_the_oldest() {
        let t0 = Instant::now();
        let mut t = Throttle::new(cfg());
        for i in 0..10u32 {
            let now = t0 + Duration::from_secs(u64::from(i / 2));
            t.record_failure(now, IpAddr::V4(Ipv4Addr::from(i)), None);
        }
        t.evict_oldest(3);
        assert_eq!(t.tracked(), 7);
        assert_eq!(t.failures(t0, &Key::V4(0)), 0);
        assert_eq!(t.failures(t0, &Key::V4(1)), 0);
        assert_eq!(t.failures(t0, &Key::V4(9)), 1);
    }
}
