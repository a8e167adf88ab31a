//! Crash safety of the POP3 server: SIGKILL the real `buzon serve` at the worst moments
//! and prove nothing was lost, nothing half-deleted, and the user can log in again at once.

use std::path::Path;
use std::time::Duration;

use buzon_testkit::process::{write_config, BuzonProcess};
use buzon_testkit::{LineClient, TestCa, TestStore};

use crate::BIN;

struct Setup {
    proc: BuzonProcess,
    config: std::path::PathBuf,
    data: std::path::PathBuf,
    /// The run's store (Maildir, or a database of its own: `BUZON_TEST_STORE`).
    store: TestStore,
    _dir: tempfile::TempDir,
}

fn setup(messages: usize) -> (Setup, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let data = dir.path().join("data");
    let store = TestStore::for_run(&data);
    let config = write_config(dir.path(), &ca, &store.config_toml(dir.path()));
    let stored = buzon_auth::hash_password(b"pw", &buzon_auth::HashParams::fast_for_tests());
    store.add_user("alice", &stored, &[]);
    let mut bodies = Vec::new();
    for i in 0..messages {
        let body = format!(
            "Subject: message {i}\nMessage-ID: <{i}@test>\n\n{}\n",
            "x".repeat(200 + i % 50)
        )
        .into_bytes();
        store.deliver("alice", &body);
        bodies.push(body);
    }
    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    (
        Setup {
            proc,
            config,
            data,
            store,
            _dir: dir,
        },
        bodies,
    )
}

/// alice's messages, in either store.
fn files(s: &Setup) -> Vec<Vec<u8>> {
    s.store.stored("alice", None)
}

/// Logs in on a node started after a kill. Maildir: at once, the lock died with the
/// process. PostgreSQL: the killed node's lease row stays until it expires, so the
/// login gets `-ERR [IN-USE]` for at most the lease (then the mailbox is free).
fn login_after_restart(s: &Setup) -> LineClient {
    if !s.store.is_postgres() {
        return login(s.proc.addr("POP3"));
    }
    let lease = buzon_testkit::store::TEST_LOCK_LEASE;
    buzon_testkit::wait_for(
        lease + Duration::from_secs(10),
        "the killed node's lease to expire",
        || {
            let mut c = LineClient::connect(s.proc.addr("POP3"));
            assert!(c.line().starts_with("+OK"));
            assert!(c.cmd("USER alice").starts_with("+OK"));
            let r = c.cmd("PASS pw");
            if r.starts_with("+OK") {
                return Some(c);
            }
            assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
            None
        },
    )
}

fn login(addr: std::net::SocketAddr) -> LineClient {
    let mut c = LineClient::connect(addr);
    assert!(c.line().starts_with("+OK"));
    c.login("alice", "pw");
    c
}

#[test]
fn sigkill_with_messages_marked_deleted_deletes_nothing() {
    let (mut s, bodies) = setup(5);
    let mut c = login(s.proc.addr("POP3"));
    for n in 1..=5 {
        assert!(c.cmd(&format!("DELE {n}")).starts_with("+OK"));
    }
    s.proc.kill();
    let mut left = files(&s);
    left.sort();
    let mut want = bodies.clone();
    want.sort();
    assert_eq!(left, want, "no message may be deleted without QUIT");
    // Restarted, the user gets in at once (Maildir: the lock died with the process), or
    // once the lease expired (PostgreSQL).
    s.proc = BuzonProcess::serve(Path::new(BIN), &s.config, &s.data);
    let mut c = login_after_restart(&s);
    assert!(c.cmd("STAT").starts_with("+OK 5 "));
}

#[test]
fn sigkill_during_update_leaves_every_message_whole_or_gone() {
    let n = 3000;
    let (mut s, bodies) = setup(n);
    // Try several kill points: the kill lands somewhere inside UPDATE's unlinks.
    for round in 0..3 {
        let mut c = login_after_restart(&s);
        let stat = c.cmd("STAT");
        let count: usize = stat
            .split_whitespace()
            .nth(1)
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        if count == 0 {
            break;
        }
        let mut batch = Vec::new();
        for i in 1..=count {
            batch.extend_from_slice(format!("DELE {i}\r\n").as_bytes());
        }
        c.send_raw(&batch).unwrap();
        for _ in 0..count {
            assert!(c.line().starts_with("+OK"));
        }
        c.send("QUIT");
        // Scenario: the kill lands at a different moment of the QUIT each round.
        std::thread::sleep(Duration::from_millis(2 + round * 3));
        s.proc.kill();
        for f in files(&s) {
            assert!(
                bodies.contains(&f),
                "a message file is corrupted or truncated"
            );
        }
        s.proc = BuzonProcess::serve(Path::new(BIN), &s.config, &s.data);
    }
    // Whatever survived is served intact.
    let mut c = login_after_restart(&s);
    let stat = c.cmd("STAT");
    assert!(stat.starts_with("+OK"), "{stat}");
    let count: usize = stat
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    assert_eq!(count, files(&s).len());
    if count > 0 {
        assert!(c.cmd("RETR 1").starts_with("+OK"));
        let body = c.body();
        let normalized: Vec<u8> = body.iter().copied().filter(|&b| b != b'\r').collect();
        assert!(bodies.contains(&normalized));
    }
}

#[test]
fn sigterm_tells_open_sessions_and_deletes_nothing() {
    let (mut s, _) = setup(2);
    let mut c = login(s.proc.addr("POP3"));
    assert!(c.cmd("DELE 1").starts_with("+OK"));
    let status = s.proc.terminate();
    assert!(
        status.is_some_and(|st| st.success()),
        "clean exit on SIGTERM: {status:?}"
    );
    let last = c.line();
    assert!(last.starts_with("-ERR [SYS/TEMP]"), "{last}");
    assert_eq!(files(&s).len(), 2);
}
