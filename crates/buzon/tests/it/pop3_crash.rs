//! Crash safety of the POP3 server: SIGKILL the real `buzon serve` at the worst moments
//! and prove nothing was lost, nothing half-deleted, and the user can log in again at once.

use std::path::Path;
use std::time::Duration;

use buzon_testkit::process::{write_config, BuzonProcess};
use buzon_testkit::{LineClient, TestCa};

use crate::BIN;

struct Setup {
    _dir: tempfile::TempDir,
    proc: BuzonProcess,
    config: std::path::PathBuf,
    data: std::path::PathBuf,
}

fn setup(messages: usize) -> (Setup, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let config = write_config(dir.path(), &ca, "");
    let data = dir.path().join("data");
    let stored = buzon_auth::hash_password(b"pw", &buzon_auth::HashParams::fast_for_tests());
    buzon_auth::add_user(&data.join("users"), "alice", &stored).unwrap();
    let md = buzon_store::Maildir::create(data.join("mail/alice")).unwrap();
    let mut bodies = Vec::new();
    for i in 0..messages {
        let body = format!(
            "Subject: message {i}\nMessage-ID: <{i}@test>\n\n{}\n",
            "x".repeat(200 + i % 50)
        )
        .into_bytes();
        md.deliver(&mut body.as_slice(), None).unwrap();
        bodies.push(body);
    }
    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    (
        Setup {
            _dir: dir,
            proc,
            config,
            data,
        },
        bodies,
    )
}

fn files(data: &Path) -> Vec<Vec<u8>> {
    buzon_testkit::maildir::messages(&data.join("mail/alice"))
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
    let mut left = files(&s.data);
    left.sort();
    let mut want = bodies.clone();
    want.sort();
    assert_eq!(left, want, "no message may be deleted without QUIT");
    // Restarted, the user gets in at once: the lock died with the process.
    s.proc = BuzonProcess::serve(Path::new(BIN), &s.config, &s.data);
    let mut c = login(s.proc.addr("POP3"));
    assert!(c.cmd("STAT").starts_with("+OK 5 "));
}

#[test]
fn sigkill_during_update_leaves_every_message_whole_or_gone() {
    let n = 3000;
    let (mut s, bodies) = setup(n);
    // Try several kill points: the kill lands somewhere inside UPDATE's unlinks.
    for round in 0..3 {
        let mut c = login(s.proc.addr("POP3"));
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
        for f in files(&s.data) {
            assert!(
                bodies.contains(&f),
                "a message file is corrupted or truncated"
            );
        }
        s.proc = BuzonProcess::serve(Path::new(BIN), &s.config, &s.data);
    }
    // Whatever survived is served intact.
    let mut c = login(s.proc.addr("POP3"));
    let stat = c.cmd("STAT");
    assert!(stat.starts_with("+OK"), "{stat}");
    let count: usize = stat
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    assert_eq!(count, files(&s.data).len());
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
    assert_eq!(files(&s.data).len(), 2);
}
