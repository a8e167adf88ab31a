//! The real `buzon` binary on the PostgreSQL store, against a private cluster of its own
//! per test (`testkit::PgCluster`), with the faults of issue 12: the database down at
//! start, a wrong password, a schema newer than the binary, the database stopped in the
//! middle of sessions and started again (service resumes without restarting buzon),
//! concurrent logins on two nodes, and a 50 MB message over LMTP and POP3.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use buzon_testkit::pg::PG_PASSWORD;
use buzon_testkit::process::{write_config, BuzonProcess};
use buzon_testkit::smtp::{status, SmtpClient};
use buzon_testkit::{LineClient, PgCluster, TestCa};

use crate::BIN;

const LISTENERS: &str = "\n[[listen]]\naddress = \"127.0.0.1:0\"\nprotocol = \"lmtp\"\n\n[delivery]\nlocal_domains = [\"example.com\"]\n";

fn cluster() -> Option<PgCluster> {
    match PgCluster::start() {
        Ok(c) => Some(c),
        Err(e) => {
            buzon_testkit::skip(&format!("no PostgreSQL test cluster: {e}"));
            None
        }
    }
}

/// A node's config in a folder of its own: POP3, POP3S, LMTP, the PostgreSQL store at
/// `url` with `password` in a password file.
struct Node {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Node {
    fn new(url: &str, password: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new();
        let pw = dir.path().join("db-password");
        std::fs::write(&pw, format!("{password}\n")).unwrap();
        let store = format!(
            "{LISTENERS}\n[store]\nkind = \"postgres\"\nurl = {url:?}\npassword_file = {pw:?}\nlock_lease = \"5s\"\nconnect_timeout = \"2s\"\n"
        );
        let config = write_config(dir.path(), &ca, &store);
        Node { dir, config }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn serve(&self) -> BuzonProcess {
        BuzonProcess::serve(Path::new(BIN), &self.config, &self.data())
    }

    /// `buzon serve` that must fail: its exit code and what it printed.
    fn serve_fails(&self) -> (i32, String) {
        let out = buzon_testkit::run_bounded(
            Command::new(BIN)
                .args(["serve", "--config"])
                .arg(&self.config)
                // Only the failure itself, not the start-up warnings of a test machine.
                .env("RUST_LOG", "off"),
            Duration::from_secs(60),
        );
        buzon_testkit::run::code_and_text(&out)
    }

    /// `buzon <args…> --config` with `stdin`: exit code and output.
    fn run(&self, args: &[&str], stdin: &[u8]) -> (i32, String) {
        let mut child = Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env_remove("SENDER")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let _ = input.write_all(stdin);
        drop(input);
        let status =
            buzon_testkit::wait::poll(Duration::from_secs(60), || child.try_wait().ok().flatten());
        if status.is_none() {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        buzon_testkit::run::code_and_text(&out)
    }
}

/// The one error line `buzon serve` printed (anything else is log noise on stderr).
fn one_line(text: &str) -> &str {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, not: {text}");
    lines[0]
}

#[test]
fn serve_refuses_to_start_on_a_database_down_a_wrong_password_or_a_newer_schema() {
    let Some(pg) = cluster() else { return };
    // Wrong password: one line naming the URL and where the password comes from.
    let (code, out) = Node::new(&pg.url(), "not the password").serve_fails();
    assert_ne!(code, 0, "{out}");
    let line = one_line(&out);
    assert!(line.contains(&pg.url()), "{line}");
    assert!(line.contains("password_file"), "{line}");
    assert!(!line.contains("not the password"), "{line}");
    // Newer schema: the node refuses and says to upgrade.
    let good = Node::new(&pg.url(), PG_PASSWORD);
    let (code, out) = good.run(&["user", "list"], b"");
    assert_eq!(code, 0, "the schema is applied by the first node: {out}");
    buzon_testkit::pg::psql(&pg.url(), "UPDATE buzon_schema SET version = 99").unwrap();
    let (code, out) = good.serve_fails();
    assert_ne!(code, 0, "{out}");
    let line = one_line(&out);
    assert!(line.contains("version 99"), "{line}");
    assert!(line.contains("upgrade buzon on every node"), "{line}");
    // Down: one line naming the URL and the fix.
    pg.stop().unwrap();
    let (code, out) = good.serve_fails();
    assert_ne!(code, 0, "{out}");
    let line = one_line(&out);
    assert!(line.contains(&pg.url()), "{line}");
    assert!(line.contains("start the database"), "{line}");
    // `buzon deliver` keeps the message with the MTA: 75, one line.
    let (code, out) = good.run(&["deliver", "--to", "alice"], b"Subject: x\n\ny\n");
    assert_eq!(code, 75, "{out}");
    assert!(one_line(&out).contains(&pg.url()), "{out}");
}

#[test]
fn users_are_managed_in_the_database_and_nodes_see_changes() {
    let Some(pg) = cluster() else { return };
    let node = Node::new(&pg.url(), PG_PASSWORD);
    let (code, out) = node.run(&["user", "add", "alice"], b"first pw\n");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("added user alice"), "{out}");
    let p = node.serve();
    let mut c = LineClient::connect(p.addr("POP3"));
    assert!(c.line().starts_with("+OK"));
    c.login("alice", "first pw");
    assert!(c.cmd("QUIT").starts_with("+OK"));
    // A password changed by `buzon user passwd` works on the running node.
    let (code, out) = node.run(&["user", "passwd", "alice"], b"second pw\n");
    assert_eq!(code, 0, "{out}");
    let mut c = LineClient::connect(p.addr("POP3"));
    assert!(c.line().starts_with("+OK"));
    c.login("alice", "second pw");
    assert!(c.cmd("QUIT").starts_with("+OK"));
    let (code, out) = node.run(&["user", "list"], b"");
    assert_eq!(code, 0, "{out}");
    assert!(out.lines().any(|l| l.starts_with("alice\t")), "{out}");
    let (code, out) = node.run(&["user", "del", "alice"], b"");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("was kept"), "{out}");
    let (_, out) = node.run(&["user", "list"], b"");
    assert!(!out.contains("alice"), "{out}");
}

fn login_reply(addr: std::net::SocketAddr, user: &str, pass: &str) -> (LineClient, String) {
    let mut c = LineClient::connect(addr);
    let greeting = c.line();
    if !greeting.starts_with("+OK") {
        return (c, greeting);
    }
    assert!(c.cmd(&format!("USER {user}")).starts_with("+OK"));
    let r = c.cmd(&format!("PASS {pass}"));
    (c, r)
}

#[test]
fn a_database_stopped_mid_session_gives_temporary_errors_and_service_resumes() {
    let Some(pg) = cluster() else { return };
    let node = Node::new(&pg.url(), PG_PASSWORD);
    assert_eq!(node.run(&["user", "add", "alice"], b"pw\n").0, 0);
    let p = node.serve();
    let lmtp = p.addr("LMTP");
    let mut c = SmtpClient::connect(lmtp);
    c.expect("LHLO faults.test", 250);
    c.expect("MAIL FROM:<s@remote.example>", 250);
    c.expect("RCPT TO:<alice@example.com>", 250);
    assert_eq!(c.data(b"Subject: one\r\n\r\nbody\r\n", 1)[0].code, 250);
    // An LMTP session and a POP3 session open when the database stops.
    c.expect("MAIL FROM:<s@remote.example>", 250);
    let (mut pop, r) = login_reply(p.addr("POP3"), "alice", "pw");
    assert!(r.starts_with("+OK"), "{r}");
    assert!(pop.cmd("STAT").starts_with("+OK 1 "));
    pg.stop().unwrap();
    let r = pop.cmd("RETR 1");
    assert!(r.starts_with("-ERR [SYS/TEMP]"), "{r}");
    let r = c.cmd("RCPT TO:<alice@example.com>");
    assert_eq!((r.code, status(&r).as_str()), (451, "4.3.0"), "{r:?}");
    drop(c);
    drop(pop);
    // New connections are refused while the health ping fails, so a balancer's check
    // (expecting +OK / 220) takes the node out of rotation.
    let refused = buzon_testkit::wait_for(
        Duration::from_secs(15),
        "the POP3 greeting to say the store is unavailable",
        || {
            let mut c = LineClient::connect(p.addr("POP3"));
            let g = c.line();
            g.starts_with("-ERR").then_some(g)
        },
    );
    assert_eq!(refused, "-ERR [SYS/TEMP] mail store unavailable");
    let greeting = LineClient::connect(lmtp).line();
    assert!(greeting.starts_with("421 4.3.0 "), "{greeting}");
    // The database returns: the same process serves again.
    pg.start_again().unwrap();
    let (mut pop, r) = buzon_testkit::wait_for(
        Duration::from_secs(30),
        "a login once the database is back",
        || {
            let (c, r) = login_reply(p.addr("POP3"), "alice", "pw");
            r.starts_with("+OK").then_some((c, r))
        },
    );
    assert!(r.starts_with("+OK"), "{r}");
    assert!(pop.cmd("RETR 1").starts_with("+OK"));
    assert!(pop.body().ends_with(b"Subject: one\r\n\r\nbody\r\n"));
    assert!(pop.cmd("QUIT").starts_with("+OK"));
    let mut c = SmtpClient::connect(lmtp);
    c.expect("LHLO faults.test", 250);
    c.expect("MAIL FROM:<s@remote.example>", 250);
    c.expect("RCPT TO:<alice@example.com>", 250);
    assert_eq!(c.data(b"Subject: two\r\n\r\nbody\r\n", 1)[0].code, 250);
}

#[test]
fn a_login_while_the_database_is_down_is_a_temporary_failure() {
    let Some(pg) = cluster() else { return };
    let node = Node::new(&pg.url(), PG_PASSWORD);
    assert_eq!(node.run(&["user", "add", "alice"], b"pw\n").0, 0);
    let p = node.serve();
    // Connected before the health ping notices: the login itself must not say
    // "wrong password".
    let mut c = LineClient::connect(p.addr("POP3"));
    assert!(c.line().starts_with("+OK"));
    pg.stop().unwrap();
    assert!(c.cmd("USER alice").starts_with("+OK"));
    let r = c.cmd("PASS pw");
    assert!(r.starts_with("-ERR [SYS/TEMP]"), "{r}");
}

#[test]
fn two_nodes_on_one_database_never_serve_one_mailbox_at_once() {
    let Some(pg) = cluster() else { return };
    let one = Node::new(&pg.url(), PG_PASSWORD);
    let two = Node::new(&pg.url(), PG_PASSWORD);
    assert_eq!(one.run(&["user", "add", "alice"], b"pw\n").0, 0);
    let (p1, p2) = (one.serve(), two.serve());
    let (mut first, r) = login_reply(p1.addr("POP3"), "alice", "pw");
    assert!(r.starts_with("+OK"), "{r}");
    let (_, r) = login_reply(p2.addr("POP3"), "alice", "pw");
    assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
    assert!(first.cmd("QUIT").starts_with("+OK"));
    // Released before the reply to QUIT: the other node serves at once.
    let (mut second, r) = login_reply(p2.addr("POP3"), "alice", "pw");
    assert!(r.starts_with("+OK"), "{r}");
    assert!(second.cmd("QUIT").starts_with("+OK"));
}

#[test]
fn a_50_mb_message_goes_in_over_lmtp_and_out_over_pop3_byte_exact() {
    let Some(pg) = cluster() else { return };
    let node = Node::new(&pg.url(), PG_PASSWORD);
    assert_eq!(node.run(&["user", "add", "alice"], b"pw\n").0, 0);
    let p = node.serve();
    let mut m = b"From: s@remote.example\r\nSubject: big\r\n\r\n".to_vec();
    let mut i = 0u64;
    while m.len() < 50_000_000 {
        if i.is_multiple_of(7) {
            m.extend_from_slice(b".a line that starts with a dot\r\n");
        } else {
            m.extend_from_slice(format!("line {i} of the fifty megabyte message\r\n").as_bytes());
        }
        i += 1;
    }
    let started = std::time::Instant::now();
    let mut c = SmtpClient::connect(p.addr("LMTP"));
    c.expect("LHLO faults.test", 250);
    c.expect("MAIL FROM:<s@remote.example>", 250);
    c.expect("RCPT TO:<alice@example.com>", 250);
    let r = c.data(&m, 1);
    assert_eq!(r[0].code, 250, "{r:?}");
    let delivered = started.elapsed();
    let (mut pop, r) = login_reply(p.addr("POP3"), "alice", "pw");
    assert!(r.starts_with("+OK"), "{r}");
    let list = pop.cmd("LIST 1");
    let size: usize = list
        .split_whitespace()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{list}"));
    let started = std::time::Instant::now();
    assert!(pop.cmd("RETR 1").starts_with("+OK"));
    let body = pop.body();
    let retrieved = started.elapsed();
    println!(
        "50 MB message on PostgreSQL: delivered over LMTP in {delivered:?}, retrieved over POP3 in {retrieved:?}"
    );
    assert_eq!(
        body.len(),
        size,
        "the RETR body has the exact size LIST gave"
    );
    assert!(body.ends_with(&m), "the message comes back byte for byte");
    let head = &body[..body.len() - m.len()];
    assert!(
        head.starts_with(b"Return-Path: <s@remote.example>\r\nDelivered-To: alice@example.com\r\n"),
        "{}",
        String::from_utf8_lossy(head)
    );
    assert!(pop.cmd("QUIT").starts_with("+OK"));
}
