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

/// A client network: an IPv4 address, or an IPv6 /64 (one IPv6 client usually
/// controls a whole /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Net {
    V4(u32),
    V6(u64),
}

impl Net {
    fn of(ip: IpAddr) -> Net {
        match canonical(ip) {
            IpAddr::V4(v4) => Net::V4(u32::from(v4)),
            IpAddr::V6(v6) => Net::V6((u128::from(v6) >> 64) as u64),
        }
    }
}

/// What failures are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// Every failure from the network, whatever the name.
    Net(Net),
    /// ASCII-lowercased user name, whether or not the user exists, from any network.
    User(String),
    /// One name from one network: what a success from there forgives.
    Pair(String, Net),
}

impl Key {
    fn ip(ip: IpAddr) -> Key {
        Key::Net(Net::of(ip))
    }
    fn user(name: &str) -> Key {
        Key::User(name.to_ascii_lowercase())
    }
    fn pair(name: &str, ip: IpAddr) -> Key {
        Key::Pair(name.to_ascii_lowercase(), Net::of(ip))
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
/// Failures are counted per client network, per user name (from every network, whether
/// or not the user exists) and per (name, network) pair. Penalty for a counter with `n`
/// recent failures: zero while `n < free_failures`, then `penalty_base × 2^(n −
/// free_failures)` capped at `penalty_max`.
///
/// - A network's penalty holds every attempt from it.
/// - A name's penalty holds attempts for that name **from penalised networks only**: the
///   networks that are guessing share one slot per penalty for the name, while a network
///   below `free_failures` is never held (let alone refused) because someone elsewhere
///   failed on the name. So guessing a name cannot lock its owner out of a network that
///   has not been failing; the price is that every fresh network gets its
///   `free_failures` unpenalised attempts, exactly as without a name counter.
/// - A success forgives only the failures of that name from that network: the pair's
///   counter is dropped and its count subtracted from the network's and the name's. A
///   network's failures on other names stay, so logging in to an own account between
///   guesses does not reset the network's penalty.
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

    /// The penalty an attempt from `ip` for `user` faces before its credentials are
    /// checked, ignoring queued slots: zero for trusted clients and without recent
    /// failures. The name's penalty counts only when the network itself is penalised.
    pub fn delay_before(&mut self, now: Instant, ip: IpAddr, user: Option<&str>) -> Duration {
        if self.cfg.is_trusted(ip) {
            return Duration::ZERO;
        }
        self.penalties(now, ip, user)
            .into_iter()
            .map(|(_, p)| p)
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// The penalised keys an attempt must get a slot from: the network when it has
    /// reached `free_failures`, and then the name too when it has.
    fn penalties(&self, now: Instant, ip: IpAddr, user: Option<&str>) -> Vec<(Key, Duration)> {
        let net = Key::ip(ip);
        let by_net = self.penalty(self.failures(now, &net));
        if by_net.is_zero() {
            // A network that has not been failing is never held by a name's counter.
            return Vec::new();
        }
        let mut keys = vec![(net, by_net)];
        if let Some(u) = user {
            let name = Key::user(u);
            let by_name = self.penalty(self.failures(now, &name));
            if !by_name.is_zero() {
                keys.push((name, by_name));
            }
        }
        keys
    }

    /// Decides on a login attempt from `ip` for `user` and reserves its time slot.
    ///
    /// An attempt from a network below `free_failures` recent failures goes ahead at
    /// once, whatever the name's counter says. From a penalised network, each penalised
    /// key (the network, and the name when it is penalised too) admits one attempt per
    /// current penalty, however many connections the attempts arrive on: an attempt
    /// waits for the later of "now + penalty" and each key's next free slot, and the
    /// slots after it move one penalty further. An attempt that would have to wait
    /// longer than `penalty_max` is [`Admission::Refused`], so a burst of parallel
    /// guesses cannot queue up work either. Trusted clients are always admitted at once.
    pub fn admit(&mut self, now: Instant, ip: IpAddr, user: Option<&str>) -> Admission {
        if self.cfg.is_trusted(ip) {
            return Admission::After(Duration::ZERO);
        }
        let penalised = self.penalties(now, ip, user);
        if penalised.is_empty() {
            return Admission::After(Duration::ZERO);
        }
        let mut at = now;
        for (key, p) in &penalised {
            let Some(earliest) = now.checked_add(*p) else {
                return Admission::Refused;
            };
            let queued = self
                .counters
                .get(key)
                .and_then(|c| c.next_slot)
                .unwrap_or(now);
            at = at.max(earliest).max(queued);
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

    /// Counts one failed login against the client's network and, when given, the user
    /// name and the (name, network) pair. Ignored for trusted clients.
    pub fn record_failure(&mut self, now: Instant, ip: IpAddr, user: Option<&str>) {
        if self.cfg.is_trusted(ip) {
            return;
        }
        self.bump(now, Key::ip(ip));
        if let Some(u) = user {
            self.bump(now, Key::user(u));
            self.bump(now, Key::pair(u, ip));
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

    /// A successful login forgives the failures of this name from this network: the
    /// pair's counter goes, and its count is taken off the network's and the name's
    /// counters (a counter that reaches zero goes too). Failures from the network on
    /// other names, and on this name from other networks, stay counted.
    pub fn record_success(&mut self, now: Instant, ip: IpAddr, user: &str) {
        if self.cfg.is_trusted(ip) {
            return;
        }
        let Some(pair) = self.counters.remove(&Key::pair(user, ip)) else {
            return;
        };
        if now.saturating_duration_since(pair.last_failure) >= self.cfg.forget_after {
            return;
        }
        for key in [Key::ip(ip), Key::user(user)] {
            if let Some(c) = self.counters.get_mut(&key) {
                c.failures = c.failures.saturating_sub(pair.failures);
                if c.failures == 0 {
                    self.counters.remove(&key);
                }
            }
        }
    }

    /// How long to delay the reply to every failed login.
    pub fn failure_delay(&self) -> Duration {
        self.cfg.failure_delay
    }

    /// What is failing now, for an administrator: networks (`"network"`, the address or
    /// the /64) and user names (`"user"`) with recent failures, each with its count and
    /// the penalty its next attempt waits; most failures first, at most `limit`.
    pub fn failing(
        &self,
        now: Instant,
        limit: usize,
    ) -> Vec<(&'static str, String, u32, Duration)> {
        let mut out: Vec<_> = self
            .counters
            .keys()
            .filter_map(|k| {
                let n = self.failures(now, k);
                let (kind, what) = match k {
                    _ if n == 0 => return None,
                    Key::Net(Net::V4(a)) => ("network", std::net::Ipv4Addr::from(*a).to_string()),
                    Key::Net(Net::V6(p)) => (
                        "network",
                        format!("{}/64", std::net::Ipv6Addr::from(u128::from(*p) << 64)),
                    ),
                    Key::User(u) => ("user", u.clone()),
                    Key::Pair(..) => return None,
                };
                Some((kind, what, n, self.penalty(n)))
            })
            .collect();
        out.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
        out.truncate(limit);
        out
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
        // Another network that has not been failing is held up neither for another name
        // nor for the name being guessed.
        assert_eq!(
            t.admit(t0, ip("198.51.100.1"), Some("bob")),
            Admission::After(Duration::ZERO)
        );
        assert_eq!(
            t.admit(t0, ip("198.51.100.1"), Some("alice")),
            Admission::After(Duration::ZERO)
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
        assert_eq!(t.failures(t0, &Key::Net(Net::V4(0))), 0);
        assert_eq!(t.failures(t0, &Key::Net(Net::V4(1))), 0);
        assert_eq!(t.failures(t0, &Key::Net(Net::V4(9))), 1);
    }

    /// Replies to a failed login come `failure_delay` after the check; a refused attempt
    /// is answered after `failure_delay` too.
    fn reply_delay() -> Duration {
        cfg().failure_delay
    }

    #[test]
    fn a_name_guessed_elsewhere_never_locks_its_owner_out_of_a_clean_network() {
        // One guess per minute on alice from network A for an hour (each guess sent on
        // time, on a new connection, whatever happened to the last). From minute 10 on
        // (she was away before), alice's mail client logs in with her password from
        // network B half a minute after each guess.
        let t0 = Instant::now();
        let mut t = Throttle::new(cfg());
        let (a, b) = (ip("192.0.2.66"), ip("198.51.100.7"));
        let mut pending: Vec<Instant> = Vec::new();
        let (mut checked, mut attacker_refused) = (0u32, 0u32);
        let (mut alice_refused, mut alice_waited) = (0u32, Duration::ZERO);
        for minute in 0..60u32 {
            let now = t0 + Duration::from_secs(60) * minute;
            // Checks that came due before now fail.
            pending.retain(|&at| {
                if at <= now {
                    t.record_failure(at, a, Some("alice"));
                }
                at > now
            });
            match t.admit(now, a, Some("alice")) {
                Admission::After(d) => {
                    checked += 1;
                    pending.push(now + d);
                }
                Admission::Refused => attacker_refused += 1,
            }
            if minute < 10 {
                continue;
            }
            let later = now + Duration::from_secs(30);
            pending.retain(|&at| {
                if at <= later {
                    t.record_failure(at, a, Some("alice"));
                }
                at > later
            });
            match t.admit(later, b, Some("alice")) {
                Admission::After(d) => {
                    alice_waited = alice_waited.max(d);
                    t.record_success(later + d, b, "alice");
                }
                Admission::Refused => alice_refused += 1,
            }
        }
        eprintln!(
            "attacker on alice from A, 60 min: {checked} checked, {attacker_refused} refused; \
             alice from B: {alice_refused}/50 refused, longest wait {alice_waited:?}"
        );
        assert_eq!(alice_refused, 0, "alice was refused from a clean network");
        assert_eq!(alice_waited, Duration::ZERO, "alice was held");
        // The attacker is still held: after the free failures, one check per penalty.
        assert!(checked <= 60, "{checked}");
        assert!(t.delay_before(t0 + Duration::from_secs(3600), a, Some("alice")) > Duration::ZERO);
    }

    #[test]
    fn penalised_networks_share_one_slot_per_penalty_on_a_name() {
        // Five networks that have been failing (on other names) all guess alice, who has
        // been failing too: together they get one check per penalty of alice's counter.
        let t0 = Instant::now();
        let mut t = Throttle::new(cfg());
        let nets: Vec<IpAddr> = (1..=5).map(|i| ip(&format!("203.0.113.{i}"))).collect();
        for (i, n) in nets.iter().enumerate() {
            for k in 0..3 {
                t.record_failure(t0, *n, Some(&format!("user{i}x{k}")));
            }
        }
        // alice's own counter: 4 failures from networks that went quiet (penalty 4 s).
        for i in 0..4 {
            t.record_failure(t0, ip(&format!("192.0.2.{}", 100 + i)), Some("alice"));
        }
        let mut waits = Vec::new();
        for round in 0..3 {
            for n in &nets {
                match t.admit(t0, *n, Some("alice")) {
                    Admission::After(d) => waits.push(d.as_secs()),
                    Admission::Refused => waits.push(u64::MAX),
                }
            }
            let _ = round;
        }
        let checked: Vec<u64> = waits.iter().copied().filter(|&w| w != u64::MAX).collect();
        // Slots 4 s apart on alice's queue (each network's own queue, 2 s, is looser).
        assert_eq!(checked, (1..=15).map(|k| 4 * k).collect::<Vec<u64>>());
        assert_eq!(waits.len() - checked.len(), 0);
        let more = t.admit(t0, nets[0], Some("alice"));
        assert_eq!(
            more,
            Admission::Refused,
            "the queue is longer than penalty_max"
        );
        // A network that has not been failing is not held by alice's queue.
        assert_eq!(
            t.admit(t0, ip("198.51.100.9"), Some("alice")),
            Admission::After(Duration::ZERO)
        );
    }

    /// Simulates one attacker on one network who owns `mallory`: guess another name,
    /// log in as mallory, guess again…, each attempt sent as soon as the last was
    /// answered. Returns the number of checked guesses per simulated minute.
    fn spray_with_an_own_account(minutes: u32) -> Vec<u32> {
        let t0 = Instant::now();
        let mut t = Throttle::new(cfg());
        let a = ip("192.0.2.13");
        let end = t0 + Duration::from_secs(60) * minutes;
        let mut per_minute = vec![0u32; minutes as usize];
        let mut now = t0;
        let mut i = 0u32;
        while now < end {
            i += 1;
            let victim = format!("victim{i}");
            match t.admit(now, a, Some(&victim)) {
                Admission::After(d) => {
                    now += d;
                    let m = (now.saturating_duration_since(t0).as_secs() / 60) as usize;
                    if let Some(c) = per_minute.get_mut(m) {
                        *c += 1;
                    }
                    t.record_failure(now, a, Some(&victim));
                    now += reply_delay();
                }
                Admission::Refused => now += reply_delay(),
            }
            match t.admit(now, a, Some("mallory")) {
                Admission::After(d) => {
                    now += d;
                    t.record_success(now, a, "mallory");
                }
                Admission::Refused => now += reply_delay(),
            }
        }
        per_minute
    }

    #[test]
    fn an_own_account_does_not_reset_the_network_counter() {
        let per_minute = spray_with_an_own_account(10);
        eprintln!("checked guesses per minute, own login between guesses: {per_minute:?}");
        // Documented: 3 free, then one per penalty (2, 4, 8, 16, 32, then 60 s): at most
        // 3 + 5 in the first two minutes, then one per minute (the own logins take
        // slots of the network's queue as well, so fewer).
        let total: u32 = per_minute.iter().sum();
        assert!(total <= 3 + 5 + 8, "{per_minute:?}");
        for (m, n) in per_minute.iter().enumerate().skip(2) {
            assert!(*n <= 1, "minute {m}: {per_minute:?}");
        }
    }

    #[test]
    fn success_forgives_only_that_names_failures_from_that_network() {
        let t0 = Instant::now();
        let mut t = Throttle::new(cfg());
        let shared = ip("192.0.2.1");
        // Behind one address: carol mistypes twice, two failures on other names.
        t.record_failure(t0, shared, Some("carol"));
        t.record_failure(t0, shared, Some("carol"));
        t.record_failure(t0, shared, Some("dave"));
        t.record_failure(t0, shared, Some("erin"));
        assert_eq!(t.delay_before(t0, shared, None), Duration::from_secs(4));
        t.record_success(t0, shared, "Carol");
        // Two failures left on the network: below free_failures again, but not zero.
        assert_eq!(t.failures(t0, &Key::ip(shared)), 2);
        assert_eq!(t.failures(t0, &Key::user("carol")), 0);
        assert_eq!(t.failures(t0, &Key::user("dave")), 1);
        // A success of a name without failures here changes nothing.
        t.record_success(t0, shared, "frank");
        assert_eq!(t.failures(t0, &Key::ip(shared)), 2);
        // carol's failures from elsewhere are not forgiven by a success here.
        t.record_failure(t0, ip("198.51.100.1"), Some("carol"));
        t.record_success(t0, shared, "carol");
        assert_eq!(t.failures(t0, &Key::user("carol")), 1);
    }
}
