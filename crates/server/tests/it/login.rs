//! The login path under attack, over real TCP on loopback: the throttle's lock-out and
//! spraying cases, verification slots saturated by guessers, reply timing of failures,
//! and reloads of the users file.
//!
//! Clients act as different machines by binding to different loopback addresses
//! (127.0.0.1, 127.0.0.2, …; Linux routes all of 127.0.0.0/8 to lo). The throttle's
//! exempt list is empty in these servers, so loopback is throttled like the Internet.
//! Every loop is bounded in count and time; times are compared as medians of many
//! samples, against bounds reasoned out beside each assertion.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use buzon_auth::HashParams;
use buzon_testkit::{LineClient, TestServer};

fn ip(d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, d))
}

fn greeted(mut c: LineClient) -> LineClient {
    let g = c.line();
    assert!(g.starts_with("+OK"), "greeting: {g}");
    c
}

/// One USER/PASS attempt on a new connection from `from`: the reply to PASS and how long
/// it took from sending PASS. `None` when the server did not answer (a test failure the
/// caller reports).
fn attempt(addr: SocketAddr, from: IpAddr, user: &str, pw: &str) -> Option<(String, Duration)> {
    let mut c = LineClient::connect_from(from, addr);
    c.set_read_timeout(Duration::from_secs(60));
    let g = c.try_read_line().ok()??;
    if !g.starts_with(b"+OK") {
        return Some((String::from_utf8_lossy(&g).into_owned(), Duration::ZERO));
    }
    c.send(&format!("USER {user}"));
    let r = c.try_read_line().ok()??;
    if !r.starts_with(b"+OK") {
        return Some((String::from_utf8_lossy(&r).into_owned(), Duration::ZERO));
    }
    c.send(&format!("PASS {pw}"));
    let t = Instant::now();
    let r = c.try_read_line().ok()??;
    let took = t.elapsed();
    if r.starts_with(b"+OK") {
        c.send("QUIT");
        let _ = c.try_read_line();
    }
    Some((String::from_utf8_lossy(&r).into_owned(), took))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

// ---------------------------------------------------------------------------------------
// Throttle: lock-out and spraying

#[test]
fn guessing_a_name_from_one_network_does_not_lock_its_owner_out_of_another() {
    // Long enough that a login on a busy machine (shorter than half of it) is clearly
    // not waiting for a penalty.
    let penalty = Duration::from_secs(2);
    let s = TestServer::builder()
        .user("alice", "correct horse")
        .config(move |c| {
            let t = &mut c.auth.throttle;
            t.trusted.clear();
            t.failure_delay = Duration::from_millis(50);
            t.free_failures = 2;
            t.penalty_base = penalty;
            t.penalty_max = penalty * 3;
            c.auth.max_auth_failures = 1;
        })
        .start();
    let (attacker, owner) = (ip(1), ip(2));
    // The free failures, then a burst of 8 parallel guesses on alice that fills her
    // name's queue (and the attacker's network's) up to penalty_max.
    for i in 0..2 {
        let r = attempt(s.pop3, attacker, "alice", &format!("guess {i}"));
        assert!(
            r.as_ref()
                .is_some_and(|(r, _)| r.starts_with("-ERR [AUTH]")),
            "{r:?}"
        );
    }
    let addr = s.pop3;
    let started = Instant::now();
    let burst: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                attempt(addr, attacker, "alice", &format!("parallel {i}"))
                    .map(|(r, _)| (r, started.elapsed()))
            })
        })
        .collect();
    // Wait until the burst is queued: the refused part of it is answered after
    // failure_delay, the checked part only after a penalty.
    buzon_testkit::wait_until(
        Duration::from_secs(20),
        "the first answer to the burst",
        || burst.iter().any(|t| t.is_finished()),
    );
    // Meanwhile alice logs in from her own network, which has not been failing, three
    // times; her read timeout is shorter than one penalty.
    let mut refused = 0;
    let mut owner_times = Vec::new();
    for _ in 0..3 {
        match attempt(s.pop3, owner, "alice", "correct horse") {
            Some((r, took)) if r.starts_with("+OK") && took < penalty / 2 => owner_times.push(took),
            Some((r, took)) => {
                eprintln!("alice from 127.0.0.2: {r} after {took:?}");
                refused += 1;
            }
            None => refused += 1,
        }
    }
    let results: Vec<(String, Duration)> = burst
        .into_iter()
        .filter_map(|t| t.join().expect("guessing thread"))
        .collect();
    let checked = results
        .iter()
        .filter(|(r, _)| r.starts_with("-ERR [AUTH]"))
        .count();
    let unchecked = results
        .iter()
        .filter(|(r, _)| r.starts_with("-ERR [SYS/TEMP]"))
        .count();
    eprintln!(
        "attacker burst from 127.0.0.1: {checked} checked, {unchecked} refused unchecked; \
         alice from 127.0.0.2: {refused}/3 refused, logins took {owner_times:?}"
    );
    assert_eq!(
        refused, 0,
        "alice was locked out of a network that was not failing"
    );
    // The attacker is still held: one checked guess per penalty, the rest refused.
    assert_eq!(checked + unchecked, 8, "{results:?}");
    assert!(checked <= 3, "{results:?}");
}

#[test]
fn an_own_account_between_guesses_does_not_reset_the_networks_counter() {
    // The attacker owns mallory and logs in as mallory between guesses on other names,
    // each attempt on a new connection as soon as the last was answered, for 5 s.
    let penalty_base = Duration::from_millis(500);
    let s = TestServer::builder()
        .user("mallory", "own password")
        .config(move |c| {
            let t = &mut c.auth.throttle;
            t.trusted.clear();
            t.failure_delay = Duration::from_millis(50);
            t.free_failures = 2;
            t.penalty_base = penalty_base;
            t.penalty_max = Duration::from_secs(1);
        })
        .start();
    let attacker = ip(3);
    let run = Duration::from_secs(5);
    let started = Instant::now();
    let (mut checked, mut refused, mut rounds) = (0u32, 0u32, 0u32);
    while started.elapsed() < run && rounds < 500 {
        rounds += 1;
        match attempt(s.pop3, attacker, &format!("victim{rounds}"), "guess") {
            Some((r, _)) if r.starts_with("-ERR [AUTH]") => checked += 1,
            Some((r, _)) if r.starts_with("-ERR [SYS/TEMP]") => refused += 1,
            other => panic!("guess: {other:?}"),
        }
        let own = attempt(s.pop3, attacker, "mallory", "own password");
        assert!(
            own.as_ref()
                .is_some_and(|(r, _)| r.starts_with("+OK") || r.starts_with("-ERR [SYS/TEMP]")),
            "{own:?}"
        );
    }
    eprintln!(
        "{rounds} rounds in {:?}: {checked} guesses checked, {refused} refused unchecked",
        started.elapsed()
    );
    // Documented: free_failures at once, then at most one checked attempt per penalty
    // (at least penalty_base) from the network, the own logins included.
    let bound = 2 + (started.elapsed().as_millis() / penalty_base.as_millis()) as u32;
    assert!(
        checked <= bound,
        "{checked} guesses checked, at most {bound} allowed"
    );
}

// ---------------------------------------------------------------------------------------
// Verification slots

/// Expensive Argon2 parameters, so one verification takes a long, easily measured time
/// (about 0.2 s of CPU here) and two of them fill both cores.
fn expensive() -> HashParams {
    HashParams {
        m_cost_kib: 65_536,
        t_cost: 3,
        p_cost: 1,
    }
}

/// Guessers on unknown names from 127.0.0.10 and up, each on a new connection as soon
/// as the last was answered, until `stop` (or a bound on count). Returns the threads
/// and the number of answers so far.
fn guessers(
    addr: SocketAddr,
    n: u8,
    stop: &Arc<AtomicBool>,
) -> (Vec<std::thread::JoinHandle<()>>, Arc<AtomicUsize>) {
    let answered = Arc::new(AtomicUsize::new(0));
    let threads = (0..n)
        .map(|g| {
            let (stop, answered) = (Arc::clone(stop), Arc::clone(&answered));
            std::thread::spawn(move || {
                for k in 0..1000 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let _ = attempt(addr, ip(10 + g), &format!("ghost{g}x{k}"), "guess");
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    (threads, answered)
}

fn wait_for(answered: &AtomicUsize, at_least: usize) {
    buzon_testkit::wait_until(Duration::from_secs(60), "the guessers to get going", || {
        answered.load(Ordering::Relaxed) >= at_least
    });
}

#[test]
fn cached_logins_do_not_queue_behind_guessers_verifications() {
    let s = TestServer::builder()
        .user("carol", "cached password")
        .config(|c| {
            c.auth.hash = expensive();
            c.auth.verify_concurrency = 2;
            let t = &mut c.auth.throttle;
            t.trusted.clear();
            t.failure_delay = Duration::ZERO;
            // Guessing is not what this test is about: keep the throttle out of it.
            t.free_failures = 100_000;
        })
        .start();
    // carol logs in once: now the cache knows her password.
    let first = attempt(s.pop3, ip(2), "carol", "cached password");
    assert!(
        first.as_ref().is_some_and(|(r, _)| r.starts_with("+OK")),
        "{first:?}"
    );
    // One unknown-user verification alone, with failure_delay 0: its reply time is the
    // cost of one verification (the dummy has the configured parameters).
    let alone: Vec<Duration> = (0..3)
        .filter_map(|i| attempt(s.pop3, ip(3), &format!("nobody{i}"), "x").map(|(_, t)| t))
        .collect();
    let one_verification = median(alone);
    // Eight guessers from eight addresses keep both slots busy and a queue waiting.
    let stop = Arc::new(AtomicBool::new(false));
    let (threads, answered) = guessers(s.pop3, 8, &stop);
    wait_for(&answered, 8);
    let mut cached = Vec::new();
    for _ in 0..9 {
        match attempt(s.pop3, ip(2), "carol", "cached password") {
            Some((r, t)) if r.starts_with("+OK") => cached.push(t),
            other => {
                stop.store(true, Ordering::Relaxed);
                panic!("cached login: {other:?}")
            }
        }
    }
    let guesses_meanwhile = answered.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let cached_median = median(cached.clone());
    eprintln!(
        "one verification alone: {}ms; cached logins under 8 guessers: median {}ms, all {:?} \
         ({guesses_meanwhile} guesses answered)",
        ms(one_verification),
        ms(cached_median),
        cached.iter().map(|d| ms(*d)).collect::<Vec<_>>()
    );
    // A cached login needs no hash and no slot: it is answered in the time of a few
    // messages on the event loop. Queued behind the guessers it would wait for at least
    // one verification to end (a slot), and with a queue ahead for several. Half a
    // verification (about 0.1 s of CPU, more under load since the guessers' hashes fill
    // both cores) is far above the first and below the second.
    assert!(
        cached_median < one_verification / 2,
        "cached logins took {cached:?}, one verification {one_verification:?}"
    );
}

#[test]
fn a_saturated_verification_pool_answers_sys_temp_after_the_bounded_wait() {
    let wait = Duration::from_millis(300);
    let s = TestServer::builder()
        .user("dave", "dave password")
        .config(move |c| {
            c.auth.hash = expensive();
            c.auth.verify_concurrency = 1;
            c.auth.verify_queue_timeout = wait;
            let t = &mut c.auth.throttle;
            t.trusted.clear();
            t.failure_delay = Duration::ZERO;
            t.free_failures = 100_000;
        })
        .start();
    // Six guessers on one slot: five wait while one verification (about 0.2 s) runs.
    let stop = Arc::new(AtomicBool::new(false));
    let (threads, answered) = guessers(s.pop3, 6, &stop);
    wait_for(&answered, 6);
    let mut seen = Vec::new();
    let mut temp = None;
    // A wrong password: never cached, so every attempt needs a slot (a success would be
    // cached and answered without one from then on).
    for _ in 0..10 {
        match attempt(s.pop3, ip(2), "dave", "wrong password") {
            Some((r, t)) if r.starts_with("-ERR [SYS/TEMP]") => {
                temp = Some(t);
                break;
            }
            other => seen.push(other),
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    eprintln!("before [SYS/TEMP]: {seen:?}; [SYS/TEMP] after {temp:?}");
    let Some(took) = temp else {
        panic!("no -ERR [SYS/TEMP] in 10 attempts while the pool was saturated: {seen:?}")
    };
    // Not before the configured wait; and well before an unbounded queue of five
    // verifications would have let it through (the slack is for a busy machine).
    assert!(took >= wait, "{took:?}");
    assert!(took < wait + Duration::from_secs(5), "{took:?}");
    // Once the guessers are gone, dave logs in normally.
    let r = attempt(s.pop3, ip(2), "dave", "dave password");
    assert!(
        r.as_ref().is_some_and(|(r, _)| r.starts_with("+OK")),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Timing of failures

/// SHA512-CRYPT of "Hello world!" (Drepper's test vector, 5,000 rounds).
const SHA512: &str = "{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";

#[test]
fn failed_logins_are_answered_at_the_same_time_whatever_the_scheme_and_whether_the_user_exists() {
    // Four times one verification alone, so even on a loaded machine most checks end
    // before it (a median moves only when more than half of its samples do).
    let failure_delay = Duration::from_secs(1);
    let argon = expensive();
    let argon_stored = buzon_auth::hash_password(b"argon password", &argon);
    let s = TestServer::builder()
        .user_stored("shauser", SHA512)
        .user_stored("argonuser", &argon_stored)
        .config(move |c| {
            c.auth.hash = argon;
            let t = &mut c.auth.throttle;
            t.failure_delay = failure_delay;
            // Sixty failures from loopback must not be penalised here: only the reply
            // time of a plain failure is measured.
            t.trusted = vec!["127.0.0.0/8".parse().unwrap()];
        })
        .start();
    // 30 wrong passwords each for the SHA512-CRYPT user, the ARGON2ID user and unknown
    // names, interleaved, on two parallel streams (two verification slots).
    let addr = s.pop3;
    let streams: Vec<_> = (0..2u8)
        .map(|k| {
            std::thread::spawn(move || {
                let mut times: [Vec<Duration>; 3] = Default::default();
                for i in 0..15 {
                    for (j, user) in ["shauser", "argonuser", "ghost"].iter().enumerate() {
                        let user = if *user == "ghost" {
                            format!("ghost{k}x{i}")
                        } else {
                            user.to_string()
                        };
                        match attempt(addr, ip(20 + k), &user, "wrong password") {
                            Some((r, t)) if r.starts_with("-ERR [AUTH]") => times[j].push(t),
                            other => panic!("{user}: {other:?}"),
                        }
                    }
                }
                times
            })
        })
        .collect();
    let mut all: [Vec<Duration>; 3] = Default::default();
    for t in streams {
        let times = t.join().expect("timing stream");
        for (a, b) in all.iter_mut().zip(times) {
            a.extend(b);
        }
    }
    let medians: Vec<Duration> = all.iter().map(|v| median(v.clone())).collect();
    let spread = medians.iter().max().copied().unwrap_or_default()
        - medians.iter().min().copied().unwrap_or_default();
    eprintln!(
        "median reply to a wrong password (30 each): SHA512-CRYPT {}ms, ARGON2ID {}ms, \
         unknown {}ms; spread {}ms",
        ms(medians[0]),
        ms(medians[1]),
        ms(medians[2]),
        ms(spread)
    );
    // Every failure is due failure_delay after its check began; the verifications
    // (a few ms for SHA512-CRYPT, about 0.2 s of CPU for this Argon2id) end before
    // that, so only scheduling noise separates
    // the medians. Replies sent a delay after the verification would differ by the
    // verification times, some 200 ms.
    assert!(
        spread < Duration::from_millis(40),
        "medians {medians:?} differ by {spread:?}"
    );
    for m in &medians {
        assert!(*m >= failure_delay, "{medians:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Users file reloads

/// Errors and warnings logged by the server in this test binary (one global subscriber).
mod logs {
    use std::sync::{Mutex, OnceLock};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    pub struct Capture {
        lines: Mutex<Vec<String>>,
    }

    struct Global(&'static Capture);

    struct Line(String);

    impl Visit for Line {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push_str(&format!("{}={:?} ", field.name(), value));
        }
    }

    impl Subscriber for Global {
        fn enabled(&self, m: &Metadata<'_>) -> bool {
            *m.level() <= Level::WARN
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, e: &Event<'_>) {
            let mut line = Line(format!("{} ", e.metadata().level()));
            e.record(&mut line);
            self.0
                .lines
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(line.0);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();

    pub fn install() -> &'static Capture {
        CAPTURE.get_or_init(|| {
            let c: &'static Capture = Box::leak(Box::new(Capture {
                lines: Mutex::new(Vec::new()),
            }));
            let _ = tracing::subscriber::set_global_default(Global(c));
            c
        })
    }

    impl Capture {
        /// The captured lines that contain every one of `parts`.
        pub fn matching(&self, parts: &[&str]) -> Vec<String> {
            self.lines
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .filter(|l| parts.iter().all(|p| l.contains(p)))
                .cloned()
                .collect()
        }
    }
}

/// Rewrites `path` in place (same inode) and puts its old modification time back, as a
/// restore with `cp -p`, `rsync -t` or `touch -r` does.
fn rewrite_keeping_mtime(path: &Path, content: &[u8]) {
    use std::io::Write;
    let old = std::fs::metadata(path).and_then(|m| m.modified()).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .unwrap();
    f.write_all(content).unwrap();
    f.set_modified(old).unwrap();
    drop(f);
    let now = std::fs::metadata(path).and_then(|m| m.modified()).unwrap();
    assert_eq!(now, old, "the test could not restore the mtime");
}

/// Replaces `path` whole (a new file renamed over it), as editors and `buzon user` do, so
/// no reader ever sees it half written.
fn replace(path: &Path, content: &[u8]) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn reload_server() -> TestServer {
    TestServer::builder()
        .user("alice", "old password")
        .user("bob", "bob password")
        .config(|c| {
            // Repeated attempts while waiting for the reload must not be penalised.
            c.auth.throttle.trusted = vec!["127.0.0.0/8".parse().unwrap()];
            c.auth.throttle.failure_delay = Duration::from_millis(20);
        })
        .start()
}

#[test]
fn a_users_file_restored_with_its_old_mtime_is_reloaded() {
    if buzon_testkit::maildir_only(
        "a_users_file_restored_with_its_old_mtime_is_reloaded",
        "about the users file; PostgreSQL keeps users in a table",
    ) {
        return;
    }
    let s = reload_server();
    let users = s.config.auth.users_file.clone();
    let r = attempt(s.pop3, ip(1), "alice", "old password");
    assert!(
        r.as_ref().is_some_and(|(r, _)| r.starts_with("+OK")),
        "{r:?}"
    );
    // Same users, alice's password changed; same length (same Argon2 parameters), so
    // same size, same inode, same mtime: only the ctime tells.
    let text = std::fs::read_to_string(&users).unwrap();
    let new_hash = buzon_auth::hash_password(b"new password", &HashParams::fast_for_tests());
    let changed: String = text
        .lines()
        .map(|l| match l.split_once(':') {
            Some(("alice", _)) => format!("alice:{new_hash}\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    assert_eq!(changed.len(), text.len());
    rewrite_keeping_mtime(&users, changed.as_bytes());
    // The new password works (at once: the verification looks at the file; the poll
    // only absorbs the one-second background interval if it ever mattered).
    let started = Instant::now();
    let last = buzon_testkit::wait_for(Duration::from_secs(30), "the new password to work", || {
        attempt(s.pop3, ip(1), "alice", "new password").filter(|(r, _)| r.starts_with("+OK"))
    });
    eprintln!(
        "new password accepted after {:?}: {last:?}",
        started.elapsed()
    );
    let old = attempt(s.pop3, ip(1), "alice", "old password");
    assert!(
        old.as_ref()
            .is_some_and(|(r, _)| r.starts_with("-ERR [AUTH]")),
        "{old:?}"
    );
}

#[test]
fn a_broken_users_file_keeps_the_old_users_and_is_reported_once() {
    if buzon_testkit::maildir_only(
        "a_broken_users_file_keeps_the_old_users_and_is_reported_once",
        "about the users file; PostgreSQL keeps users in a table",
    ) {
        return;
    }
    let capture = logs::install();
    let s = reload_server();
    let users = s.config.auth.users_file.clone();
    let users_text = users.display().to_string();
    replace(&users, b"alice:{PLAIN}x\nthis line has no colon\n");
    // For more than two background intervals: greetings, and logins of users whose
    // passwords were never cached (each one's verification looks at the file).
    let started = Instant::now();
    let mut greetings = 0;
    let mut logins = 0;
    while started.elapsed() < Duration::from_millis(2500) && greetings < 200 {
        let mut c = greeted(LineClient::connect_from(ip(1), s.pop3));
        assert!(c.cmd("QUIT").starts_with("+OK"));
        greetings += 1;
        if greetings % 10 == 1 {
            let (user, pw) = if logins % 2 == 0 {
                ("bob", "bob password")
            } else {
                ("alice", "old password")
            };
            let r = attempt(s.pop3, ip(1), user, pw);
            assert!(
                r.as_ref().is_some_and(|(r, _)| r.starts_with("+OK")),
                "{user}: {r:?}"
            );
            logins += 1;
        }
        // Scenario: greetings at a steady pace over more than two background intervals.
        std::thread::sleep(Duration::from_millis(10));
    }
    let errors = capture.matching(&["ERROR", &users_text]);
    eprintln!(
        "{greetings} greetings, {logins} logins with a broken users file; errors: {errors:?}"
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("line 2"), "{errors:?}");
    // Fixed: the new version is taken, once more without waiting for a greeting.
    let carol = buzon_auth::hash_password(b"carol password", &HashParams::fast_for_tests());
    replace(&users, format!("carol:{carol}\n").as_bytes());
    let r = attempt(s.pop3, ip(1), "carol", "carol password");
    assert!(
        r.as_ref().is_some_and(|(r, _)| r.starts_with("+OK")),
        "{r:?}"
    );
    let r = attempt(s.pop3, ip(1), "bob", "bob password");
    assert!(
        r.as_ref()
            .is_some_and(|(r, _)| r.starts_with("-ERR [AUTH]")),
        "{r:?}"
    );
}

#[test]
fn a_users_file_caught_half_written_is_not_taken() {
    if buzon_testkit::maildir_only(
        "a_users_file_caught_half_written_is_not_taken",
        "about the users file; PostgreSQL keeps users in a table",
    ) {
        return;
    }
    use std::io::Write;
    let s = reload_server();
    let users = s.config.auth.users_file.clone();
    // An in-place rewrite that pauses after truncating (a slow editor, `cat >`), into a
    // version that does not parse. During the pause, a login that needs a hash looks at
    // the file: the empty file must not become the users of the server.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&users)
        .unwrap();
    let addr = s.pop3;
    let probe = std::thread::spawn(move || attempt(addr, ip(1), "nobody", "x"));
    // Scenario: the writer pauses with the file truncated while the probe looks at it.
    std::thread::sleep(Duration::from_millis(30));
    f.write_all(b"alice:{PLAIN}x\nthis line has no colon\n")
        .unwrap();
    drop(f);
    let r = probe.join().expect("probe");
    assert!(
        r.as_ref()
            .is_some_and(|(r, _)| r.starts_with("-ERR [AUTH]")),
        "{r:?}"
    );
    // alice (never cached) still logs in with the password of the last good version.
    let r = attempt(s.pop3, ip(1), "alice", "old password");
    assert!(
        r.as_ref().is_some_and(|(r, _)| r.starts_with("+OK")),
        "{r:?}"
    );
}
