//! Chaos on the scale-out of docs/scale-out.md: three `buzon serve` nodes on one
//! PostgreSQL database behind a real HAProxy. A stream of LMTP deliveries (each to alice
//! and bob, one transaction) and two `buzon fetch` clients (alice deletes after download,
//! bob keeps a copy on the server) run through HAProxy while a random node is killed with
//! SIGKILL at random moments, [`KILLS`] times, and restarted; PostgreSQL is restarted once
//! (`pg_ctl restart -m fast`) in the middle.
//!
//! At the end, once every node is back in HAProxy's rotation and the clients have caught
//! up:
//! - every acknowledged delivery is stored locally exactly once for each user;
//! - nothing is deleted that was not downloaded: alice's local copies are exactly the
//!   deliveries the database committed (bob's server mailbox, which keep mode never
//!   deletes from, is that record), and her server mailbox is empty;
//! - no lease was ever set to outlive `lock_lease`, and none is live at the end;
//! - every node is healthy.
//!
//! The figures (kills, deliveries, downloads, duplicates, lost) are printed. Bounded: the
//! disorder lasts about half a minute, each wait has a deadline.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use buzon_testkit::haproxy::{self, Bind, Check, Front, HaProxy};
use buzon_testkit::pg::psql;
use buzon_testkit::store::TEST_LOCK_LEASE;

use crate::haproxy::{Cluster, Shared, HEALTH};
use crate::BIN;

/// Nodes killed during the run (each restarted).
const KILLS: usize = 10;
/// The database restart comes after this many kills.
const RESTART_DB_AFTER: usize = 5;
/// Longest a final catch-up may take: killed nodes' leases expire after `lock_lease`,
/// then the clients need a run or two.
const CATCH_UP: Duration = Duration::from_secs(90);

/// A small deterministic generator (xorshift64*): the seed is printed, so a failing run
/// can be replayed with `BUZON_CHAOS_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo))
    }
}

fn message(id: usize) -> Vec<u8> {
    format!(
        "From: s@remote.example\r\nSubject: chaos {id}\r\nMessage-ID: <chaos.{id}@remote.example>\r\nX-Chaos-Id: {id}\r\n\r\nbody of {id}\r\n.leading dot line\r\n"
    )
    .into_bytes()
}

/// The `X-Chaos-Id` of a stored message.
fn chaos_id(message: &[u8]) -> Option<usize> {
    let text = String::from_utf8_lossy(message);
    text.lines()
        .find_map(|l| l.strip_prefix("X-Chaos-Id: "))
        .and_then(|v| v.trim().parse().ok())
}

/// How many copies of each id a list of messages holds.
fn census(messages: &[Vec<u8>]) -> BTreeMap<usize, usize> {
    let mut m = BTreeMap::new();
    for msg in messages {
        if let Some(id) = chaos_id(msg) {
            *m.entry(id).or_insert(0) += 1;
        }
    }
    m
}

/// One LMTP transaction to alice and bob. `Ok(true)` when both recipients got 250 after
/// the data (the delivery is acknowledged); `Ok(false)` for a refusal; `Err` for a
/// connection that broke (a killed node): neither acknowledged.
fn lmtp_deliver(addr: SocketAddr, id: usize) -> Result<bool, String> {
    let stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .map_err(|e| e.to_string())?;
    let mut w = stream.try_clone().map_err(|e| e.to_string())?;
    let mut r = BufReader::new(stream);
    // Reads one reply (continuation lines included); gives its code.
    let reply = |r: &mut BufReader<TcpStream>| -> Result<u16, String> {
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err("connection closed".into());
            }
            let code = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| format!("not a reply: {line:?}"))?;
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(code);
            }
        }
    };
    let send = |w: &mut TcpStream, bytes: &[u8]| w.write_all(bytes).map_err(|e| e.to_string());
    if reply(&mut r)? != 220 {
        return Ok(false);
    }
    for (cmd, want) in [
        ("LHLO chaos.example\r\n", 250),
        ("MAIL FROM:<s@remote.example>\r\n", 250),
        ("RCPT TO:<alice@localhost>\r\n", 250),
        ("RCPT TO:<bob@localhost>\r\n", 250),
        ("DATA\r\n", 354),
    ] {
        send(&mut w, cmd.as_bytes())?;
        if reply(&mut r)? != want {
            return Ok(false);
        }
    }
    let mut data = message(id);
    data.extend_from_slice(b".\r\n");
    // Dot-stuffing: the one line that starts with a dot.
    let data = String::from_utf8_lossy(&data).replace("\r\n.leading", "\r\n..leading");
    send(&mut w, data.as_bytes())?;
    let alice = reply(&mut r)?;
    let bob = reply(&mut r)?;
    let _ = send(&mut w, b"QUIT\r\n");
    Ok(alice == 250 && bob == 250)
}

/// One `buzon fetch` run through HAProxy into `maildir`; its output when it failed (exit
/// 0: mail fetched, 1: nothing new, both a success here).
fn fetch(port: u16, user: &str, work: &Path, keep: bool) -> Result<(), String> {
    let maildir = work.join(format!("{user}-local"));
    let mut c = Command::new(BIN);
    c.arg("fetch")
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--security", "none", "--allow-plaintext"])
        .args([
            "--user",
            user,
            "--password-env",
            "BUZON_TEST_PW",
            "--ledger-dir",
        ])
        .arg(work.join(format!("{user}-ledger")))
        .arg("--config")
        .arg(work.join("none.toml"))
        .arg("--maildir")
        .arg(&maildir)
        .env("BUZON_TEST_PW", "pw");
    if keep {
        c.arg("--keep");
    }
    let out = buzon_testkit::run_bounded(&mut c, Duration::from_secs(60));
    if matches!(out.status.code(), Some(0 | 1)) {
        Ok(())
    } else {
        Err(format!(
            "{user}: {}: {} {}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn local(work: &Path, user: &str) -> Vec<Vec<u8>> {
    buzon_testkit::maildir::messages(&work.join(format!("{user}-local")))
}

/// Counts of what the background workers did.
#[derive(Default)]
struct Tally {
    attempts: AtomicUsize,
    refused: AtomicUsize,
    broken: AtomicUsize,
    fetch_ok: AtomicUsize,
    fetch_failed: AtomicUsize,
}

#[test]
fn chaos_three_nodes_random_kills_and_a_database_restart_lose_and_duplicate_nothing() {
    if !haproxy::available() {
        return;
    }
    let Some(mut c) = Cluster::new(3, "", Shared::Postgres) else {
        return;
    };
    let stored = buzon_auth::hash_password(b"pw", &buzon_auth::HashParams::fast_for_tests());
    c.store.add_user("bob", &stored, &[]);
    let Some(h) = HaProxy::front(&[
        Front::new("pop3", Bind::Tcp, Check::Pop3, &c.pop3_addrs()),
        Front::new("lmtp", Bind::Tcp, Check::Greeting220, &c.lmtp_addrs()),
    ]) else {
        return;
    };
    let all_up = |h: &HaProxy| {
        for node in ["node1", "node2", "node3"] {
            h.wait_status("pop3_nodes", node, "UP", HEALTH);
            h.wait_status("lmtp_nodes", node, "UP", HEALTH);
        }
    };
    all_up(&h);
    let seed = std::env::var("BUZON_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 | 1)
                .unwrap_or(0x9e37_79b9_7f4a_7c15)
        });
    eprintln!("chaos: seed {seed} (replay with BUZON_CHAOS_SEED={seed})");
    let mut rng = Rng(seed);

    let work: PathBuf = c.dir.path().join("clients");
    std::fs::create_dir_all(&work).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let acked = Arc::new(Mutex::new(Vec::<usize>::new()));

    // The delivery stream: new ids only (a sender's retry of a broken transaction may
    // legitimately duplicate; these checks are about what was acknowledged).
    let lmtp_addr = h.addr("lmtp");
    let deliverer = {
        let (stop, tally, acked) = (Arc::clone(&stop), Arc::clone(&tally), Arc::clone(&acked));
        std::thread::spawn(move || {
            let mut id = 0;
            while !stop.load(Ordering::Relaxed) && id < 100_000 {
                id += 1;
                tally.attempts.fetch_add(1, Ordering::Relaxed);
                match lmtp_deliver(lmtp_addr, id) {
                    Ok(true) => acked.lock().unwrap().push(id),
                    Ok(false) => {
                        tally.refused.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    Err(_) => {
                        tally.broken.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
        })
    };
    // The two mail clients, fetching over and over.
    let pop3_port = h.addr("pop3").port();
    let fetchers: Vec<_> = [("alice", false), ("bob", true)]
        .into_iter()
        .map(|(user, keep)| {
            let (stop, tally, work) = (Arc::clone(&stop), Arc::clone(&tally), work.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if fetch(pop3_port, user, &work, keep).is_ok() {
                        tally.fetch_ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        tally.fetch_failed.fetch_add(1, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        })
        .collect();

    // No lease may ever be set beyond lock_lease from now (sampled throughout).
    let db_url = c.store.db().unwrap().url().to_string();
    let lease_secs = TEST_LOCK_LEASE.as_secs();
    let overlong_leases = || {
        psql(
            &db_url,
            &format!("SELECT count(*) FROM leases WHERE expires_at > now() + interval '{lease_secs} seconds' + interval '1 second'"),
        )
        .map(|s| s.trim().to_string())
    };
    let mut lease_samples = 0;
    let mut overlong = 0;

    let disorder = Instant::now();
    let mut db_restart = None;
    for k in 1..=KILLS {
        std::thread::sleep(rng.millis(400, 1800));
        let i = rng.below(3) as usize;
        c.kill(i);
        std::thread::sleep(rng.millis(100, 900));
        c.start(i);
        if let Ok(n) = overlong_leases() {
            lease_samples += 1;
            if n != "0" {
                overlong += 1;
            }
        }
        if k == RESTART_DB_AFTER {
            let t = Instant::now();
            c.pg.as_ref().unwrap().restart_fast().unwrap();
            db_restart = Some(t.elapsed());
        }
    }
    // A little more traffic once the disorder is over, then stop the workers.
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    deliverer.join().unwrap();
    for f in fetchers {
        f.join().unwrap();
    }
    let disorder = disorder.elapsed();
    all_up(&h);

    // Catch up: the killed nodes' leases run out, then both clients get everything.
    let committed = || census(&c.store.stored("bob", None));
    let mut last_failure = String::new();
    let caught_up = buzon_testkit::poll(CATCH_UP, || {
        let runs = [
            fetch(pop3_port, "alice", &work, false),
            fetch(pop3_port, "bob", &work, true),
        ];
        let ok = runs.iter().all(Result::is_ok);
        if let Some(Err(e)) = runs.into_iter().find(Result::is_err) {
            last_failure = e;
        }
        let done = ok
            && c.store.message_count("alice") == 0
            && census(&local(&work, "bob")).len() == committed().len();
        if !done {
            std::thread::sleep(Duration::from_millis(500));
        }
        done.then_some(())
    });
    assert!(
        caught_up.is_some(),
        "the clients did not catch up within {CATCH_UP:?}: alice has {} left on the server, bob {} of {} locally; last failed fetch: {last_failure}",
        c.store.message_count("alice"),
        census(&local(&work, "bob")).len(),
        committed().len()
    );

    let acked = acked.lock().unwrap().clone();
    let committed = committed();
    let alice = census(&local(&work, "alice"));
    let bob = census(&local(&work, "bob"));
    let duplicates = |m: &BTreeMap<usize, usize>| m.values().filter(|&&n| n > 1).count();
    let lost = |m: &BTreeMap<usize, usize>| acked.iter().filter(|id| !m.contains_key(id)).count();
    let live_leases = psql(
        &db_url,
        "SELECT count(*) FROM leases WHERE expires_at > now()",
    )
    .unwrap();
    eprintln!(
        "chaos: {KILLS} node kills, 1 database restart ({} ms), {} s of disorder; \
         deliveries: {} attempted, {} acknowledged, {} refused (4xx/5xx), {} broken by a kill, {} committed; \
         fetch runs: {} ok, {} failed; alice (delete mode) downloaded {}, bob (keep mode) {}; \
         duplicates {}/{}, lost {}/{}, deleted without download {}; lease samples {lease_samples}, over lock_lease {overlong}",
        db_restart.map_or(0, |d| d.as_millis()),
        disorder.as_secs(),
        tally.attempts.load(Ordering::Relaxed),
        acked.len(),
        tally.refused.load(Ordering::Relaxed),
        tally.broken.load(Ordering::Relaxed),
        committed.len(),
        tally.fetch_ok.load(Ordering::Relaxed),
        tally.fetch_failed.load(Ordering::Relaxed),
        alice.len(),
        bob.len(),
        duplicates(&alice),
        duplicates(&bob),
        lost(&alice),
        lost(&bob),
        committed.keys().filter(|id| !alice.contains_key(id)).count(),
    );
    assert!(!acked.is_empty(), "no delivery was acknowledged at all");
    assert_eq!(duplicates(&committed), 0, "a delivery committed twice");
    assert_eq!(
        (duplicates(&alice), duplicates(&bob)),
        (0, 0),
        "a message downloaded twice"
    );
    assert_eq!(
        (lost(&alice), lost(&bob)),
        (0, 0),
        "an acknowledged delivery was not downloaded"
    );
    // Delete mode: the server deleted exactly what alice downloaded, nothing else.
    let alice_ids: Vec<_> = alice.keys().collect();
    let committed_ids: Vec<_> = committed.keys().collect();
    assert_eq!(
        alice_ids, committed_ids,
        "alice's downloads against what the database committed"
    );
    assert_eq!(c.store.message_count("alice"), 0);
    let bob_ids: Vec<_> = bob.keys().collect();
    assert_eq!(
        bob_ids, committed_ids,
        "bob's downloads against his server mailbox"
    );
    assert_eq!(overlong, 0, "a lease was set beyond lock_lease");
    assert_eq!(live_leases.trim(), "0", "a lease outlived every session");
    for node in ["node1", "node2", "node3"] {
        h.wait_status("pop3_nodes", node, "UP", HEALTH);
    }
}
