//! Golden sessions of the fetch driver against a scripted POP3 server on 127.0.0.1: the
//! exact commands on the wire (with the ones that travelled in one write joined by ` + `),
//! the safety-protocol checkpoints and progress events in order, and the report. They pin
//! the order of operations the crash and interop tests rely on, for every policy, with
//! and without PIPELINING and UIDL.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use super::*;
use crate::config::{Oversize, PasswordSource, Retention};
use crate::net::{Security, Timeouts, TlsSettings};
use crate::pop3::{AuthMethod, ServerSpec};

/// What the scripted server offers and how it misbehaves.
#[derive(Clone, Copy, Default)]
struct Script {
    pipelining: bool,
    uidl: bool,
    /// Answer `-ERR` to DELE of this message number.
    refuse_dele: Option<usize>,
}

/// The scripted server's mailbox: (unique id, message with CRLF line ends).
type Mailbox = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

struct Scripted {
    addr: SocketAddr,
    mailbox: Mailbox,
    wire: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    fn start(count: usize, big: &[usize], script: Script) -> Scripted {
        let mailbox: Mailbox = Arc::new(Mutex::new(Vec::new()));
        let s = Scripted {
            addr: "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
            mailbox,
            wire: Arc::new(Mutex::new(Vec::new())),
        };
        for i in 1..=count {
            s.add(i, big.contains(&i));
        }
        let listener = TcpListener::bind(s.addr).unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let (mb, wire) = (s.mailbox.clone(), s.wire.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().take(16) {
                let Ok(conn) = conn else { return };
                let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                session(conn, &mb, &wire, script);
            }
        });
        Scripted { addr, ..s }
    }

    /// Adds message `uid-<i>` (with a long body when `big`).
    fn add(&self, i: usize, big: bool) {
        let body = if big {
            "y".repeat(2000)
        } else {
            format!("body {i}")
        };
        let m = format!("Subject: m{i}\r\n\r\n{body}\r\n.dot line\r\n").into_bytes();
        if let Ok(mut g) = self.mailbox.lock() {
            g.push((format!("uid-{i}"), m));
        }
    }

    /// The commands received since the last call.
    fn take_wire(&self) -> Vec<String> {
        self.wire
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default()
    }
}

fn session(
    conn: std::net::TcpStream,
    mailbox: &Mailbox,
    wire: &Mutex<Vec<String>>,
    script: Script,
) {
    let mut r = BufReader::new(conn);
    let _ = r.get_mut().write_all(b"+OK scripted\r\n");
    let msgs = mailbox.lock().map(|g| g.clone()).unwrap_or_default();
    let mut dele = Vec::new();
    let mut joined = false;
    let stuffed = |m: &[u8]| -> Vec<u8> {
        let mut out = Vec::new();
        for l in m.split_inclusive(|&b| b == b'\n') {
            if l.starts_with(b".") {
                out.push(b'.');
            }
            out.extend_from_slice(l);
        }
        out.extend_from_slice(b".\r\n");
        out
    };
    for _ in 0..1000 {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let cmd = line.trim_end().to_string();
        if let Ok(mut g) = wire.lock() {
            match g.last_mut() {
                Some(last) if joined => {
                    last.push_str(" + ");
                    last.push_str(&cmd);
                }
                _ => g.push(cmd.clone()),
            }
        }
        // Sent in the same write as this one (the client's pipelining).
        joined = !r.buffer().is_empty();
        let mut words = cmd.split(' ');
        let verb = words.next().unwrap_or_default().to_ascii_uppercase();
        let n: usize = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
        let msg = n.checked_sub(1).and_then(|i| msgs.get(i));
        let reply: Vec<u8> = match (verb.as_str(), msg) {
            ("CAPA", _) => {
                let mut s = String::from("+OK\r\nUSER\r\nTOP\r\n");
                if script.uidl {
                    s.push_str("UIDL\r\n");
                }
                if script.pipelining {
                    s.push_str("PIPELINING\r\n");
                }
                s.push_str(".\r\n");
                s.into_bytes()
            }
            ("USER" | "PASS", _) => b"+OK\r\n".to_vec(),
            ("LIST", _) => {
                let mut s = String::from("+OK\r\n");
                for (i, (_, m)) in msgs.iter().enumerate() {
                    s.push_str(&format!("{} {}\r\n", i + 1, m.len()));
                }
                s.push_str(".\r\n");
                s.into_bytes()
            }
            ("UIDL", _) if script.uidl => {
                let mut s = String::from("+OK\r\n");
                for (i, (u, _)) in msgs.iter().enumerate() {
                    s.push_str(&format!("{} {u}\r\n", i + 1));
                }
                s.push_str(".\r\n");
                s.into_bytes()
            }
            ("RETR", Some((_, m))) => [b"+OK\r\n".to_vec(), stuffed(m)].concat(),
            ("TOP", Some((_, m))) => {
                let end = m
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map_or(m.len(), |p| p + 4);
                [b"+OK\r\n".to_vec(), stuffed(&m[..end])].concat()
            }
            ("DELE", Some(_)) if script.refuse_dele == Some(n) => {
                b"-ERR [SYS/TEMP] cannot delete now\r\n".to_vec()
            }
            ("DELE", Some(_)) => {
                dele.push(n - 1);
                b"+OK\r\n".to_vec()
            }
            ("QUIT", _) => {
                if let Ok(mut g) = mailbox.lock() {
                    let mut i = 0;
                    g.retain(|_| {
                        i += 1;
                        !dele.contains(&(i - 1))
                    });
                }
                let _ = r.get_mut().write_all(b"+OK bye\r\n");
                return;
            }
            _ => b"-ERR unknown\r\n".to_vec(),
        };
        if r.get_mut().write_all(&reply).is_err() {
            return;
        }
    }
}

/// Every progress event, in order.
#[derive(Default)]
struct Events(Vec<String>);

impl Observer for Events {
    fn start(&mut self, _account: &str, messages: u64, bytes: u64) {
        self.0.push(format!("start {messages} {bytes}"));
    }
    fn stored(&mut self, bytes: u64) {
        self.0.push(format!("stored {bytes}"));
    }
    fn note(&mut self, text: &str) {
        self.0.push(format!("note {text}"));
    }
    fn checkpoint(&mut self, point: Checkpoint, seq: u32) {
        self.0.push(format!("{point:?} {seq}"));
    }
}

struct Golden {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    server: Scripted,
}

impl Golden {
    fn new(count: usize, big: &[usize], script: Script) -> Golden {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        Golden {
            dir: tmp.path().to_path_buf(),
            _tmp: tmp,
            server: Scripted::start(count, big, script),
        }
    }

    fn account(&self, policy: Policy, destination: Option<Destination>) -> Account {
        Account {
            name: "golden".into(),
            server: ServerSpec {
                host: "127.0.0.1".into(),
                port: self.server.addr.port(),
                security: Security::None,
                tls: TlsSettings::default(),
                timeouts: Timeouts {
                    connect: Duration::from_secs(5),
                    handshake: Duration::from_secs(5),
                    read: Duration::from_secs(10),
                },
            },
            user: "u".into(),
            auth: AuthMethod::User,
            password: PasswordSource::Prompt,
            oauth: None,
            allow_plaintext: true,
            destination: destination.unwrap_or_else(|| Destination::Maildir(self.maildir())),
            policy,
        }
    }

    fn maildir(&self) -> PathBuf {
        self.dir.join("Maildir")
    }

    fn opts(&self, days_later: u64) -> FetchOptions {
        let mut o = FetchOptions::new(self.dir.join("ledger"));
        o.now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + days_later * 86_400);
        o
    }

    /// One run: the wire, the events, and the report (or the error and the partial
    /// report), each as lines.
    async fn run(&self, account: &Account, opts: &FetchOptions) -> Vec<String> {
        let mut ev = Events::default();
        let res = fetch(
            account,
            &Secret::new("pw"),
            &Resolver::system(),
            opts,
            &mut ev,
        )
        .await;
        let mut out: Vec<String> = self
            .server
            .take_wire()
            .into_iter()
            .map(|c| format!("C: {c}"))
            .collect();
        out.extend(ev.0.into_iter().map(|e| format!("E: {e}")));
        let report = match res {
            Ok(r) => r,
            Err(e) => {
                out.push(format!("error (exit {}): {}", e.error.exit_code(), e.error));
                e.partial
            }
        };
        out.push(format!(
            "R: {} on server: {}; {}",
            report.account,
            report.on_server,
            report.summary()
        ));
        for p in &report.plan {
            out.push(format!(
                "P: {} {} {} {}: {}",
                p.msg,
                p.uidl.as_deref().unwrap_or("-"),
                p.size,
                p.action,
                p.reason
            ));
        }
        out.extend(report.notes.iter().map(|n| format!("N: {n}")));
        out
    }
}

/// The golden runs take turns. A delivery program started by one of them (fork, then
/// exec) holds, for an instant, a copy of every descriptor of this process, the ledger
/// locks of the other runs included: a run reopening its ledger at that instant would
/// find it locked by "another fetch".
async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

fn policy(retention: Retention) -> Policy {
    Policy {
        retention,
        ..Default::default()
    }
}

#[track_caller]
fn same(actual: Vec<String>, expected: &[&str]) {
    if actual != expected {
        panic!(
            "the session differs; it was:\n{}\n",
            actual
                .iter()
                .map(|l| format!("        {l:?},"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

fn script(pipelining: bool, uidl: bool) -> Script {
    Script {
        pipelining,
        uidl,
        ..Default::default()
    }
}

#[tokio::test]
async fn pipelined_delete_sends_each_dele_with_the_next_retr() {
    let _turn = one_at_a_time().await;
    let g = Golden::new(3, &[], script(true, true));
    let a = g.account(policy(Retention::Delete), None);
    same(
        g.run(&a, &g.opts(0)).await,
        &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: RETR 1",
            "C: DELE 1 + RETR 2",
            "C: DELE 2 + RETR 3",
            "C: DELE 3",
            "C: QUIT",
            "E: start 3 102",
            "E: AfterRetr 1",
            "E: AfterStore 1",
            "E: AfterRecord 1",
            "E: stored 34",
            "E: AfterDele 1",
            "E: AfterRetr 2",
            "E: AfterStore 2",
            "E: AfterRecord 2",
            "E: stored 34",
            "E: AfterDele 2",
            "E: AfterRetr 3",
            "E: AfterStore 3",
            "E: AfterRecord 3",
            "E: stored 34",
            "E: AfterDele 3",
            "E: BeforeQuit 3",
            "R: golden on server: 3; 3 new messages, 102 B, 3 deleted on server",
            "P: 1 uid-1 34 fetch: new; deleted on the server after it is stored",
            "P: 2 uid-2 34 fetch: new; deleted on the server after it is stored",
            "P: 3 uid-3 34 fetch: new; deleted on the server after it is stored",
        ],
    );
    same(
        g.run(&a, &g.opts(0)).await,
        &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: QUIT",
            "E: start 0 0",
            "E: BeforeQuit 0",
            "R: golden on server: 0; no new messages",
        ],
    );
}

#[tokio::test]
async fn without_pipelining_each_dele_follows_its_record() {
    let _turn = one_at_a_time().await;
    let g = Golden::new(2, &[], script(false, true));
    let a = g.account(policy(Retention::Delete), None);
    same(
        g.run(&a, &g.opts(0)).await,
        &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: RETR 1",
            "C: DELE 1",
            "C: RETR 2",
            "C: DELE 2",
            "C: QUIT",
            "E: start 2 68",
            "E: AfterRetr 1",
            "E: AfterStore 1",
            "E: AfterRecord 1",
            "E: stored 34",
            "E: AfterDele 1",
            "E: AfterRetr 2",
            "E: AfterStore 2",
            "E: AfterRecord 2",
            "E: stored 34",
            "E: AfterDele 2",
            "E: AfterDele 2",
            "E: BeforeQuit 2",
            "R: golden on server: 2; 2 new messages, 68 B, 2 deleted on server",
            "P: 1 uid-1 34 fetch: new; deleted on the server after it is stored",
            "P: 2 uid-2 34 fetch: new; deleted on the server after it is stored",
        ],
    );
}

#[tokio::test]
async fn keep_then_days_then_delete_with_a_limit() {
    let _turn = one_at_a_time().await;
    let g = Golden::new(3, &[], script(true, true));
    let mut keep = g.account(policy(Retention::Keep), None);
    keep.policy.limit = Some(2);
    same(
        g.run(&keep, &g.opts(0)).await,
        &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: RETR 1",
            "C: RETR 2",
            "C: QUIT",
            "E: start 2 68",
            "E: AfterRetr 1",
            "E: AfterStore 1",
            "E: AfterRecord 1",
            "E: stored 34",
            "E: AfterRetr 2",
            "E: AfterStore 2",
            "E: AfterRecord 2",
            "E: stored 34",
            "E: BeforeQuit 2",
            "R: golden on server: 3; 2 new messages, 68 B, 1 left for the next run (limit)",
            "P: 1 uid-1 34 fetch: new; a copy stays on the server",
            "P: 2 uid-2 34 fetch: new; a copy stays on the server",
            "P: 3 uid-3 34 keep: per-run limit reached; fetched next run",
        ],
    );
    let days = g.account(policy(Retention::DeleteAfterDays(2)), None);
    same(
        g.run(&days, &g.opts(1)).await,
        &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: RETR 3",
            "C: QUIT",
            "E: start 1 34",
            "E: AfterRetr 1",
            "E: AfterStore 1",
            "E: AfterRecord 1",
            "E: stored 34",
            "E: BeforeQuit 1",
            "R: golden on server: 3; 1 new message, 34 B",
            "P: 1 uid-1 34 keep: downloaded 1 days ago; deleted on the server after 2",
            "P: 2 uid-2 34 keep: downloaded 1 days ago; deleted on the server after 2",
            "P: 3 uid-3 34 fetch: new; a copy stays on the server",
        ],
    );
    // Exactly two days after the first download of 1 and 2; one after that of 3.
    g.server.add(4, false);
    same(
        g.run(&days, &g.opts(2)).await,
        &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: DELE 1",
            "C: DELE 2 + RETR 4",
            "C: QUIT",
            "E: start 1 34",
            "E: AfterDele 0",
            "E: AfterRetr 1",
            "E: AfterStore 1",
            "E: AfterRecord 1",
            "E: stored 34",
            "E: AfterDele 1",
            "E: BeforeQuit 1",
            "R: golden on server: 4; 1 new message, 34 B, 2 deleted on server",
            "P: 1 uid-1 34 delete: downloaded 2 days ago; delete_after_days = 2",
            "P: 2 uid-2 34 delete: downloaded 2 days ago; delete_after_days = 2",
            "P: 3 uid-3 34 keep: downloaded 1 days ago; deleted on the server after 2",
            "P: 4 uid-4 34 fetch: new; a copy stays on the server",
        ],
    );
    // Old messages deleted alone, the last one with the RETR of the new one.
    g.server.add(5, false);
    let delete = g.account(policy(Retention::Delete), None);
    same(
        g.run(&delete, &g.opts(2)).await,
        &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: DELE 1",
            "C: DELE 2 + RETR 3",
            "C: DELE 3",
            "C: QUIT",
            "E: start 1 34",
            "E: AfterDele 0",
            "E: AfterRetr 1",
            "E: AfterStore 1",
            "E: AfterRecord 1",
            "E: stored 34",
            "E: AfterDele 1",
            "E: BeforeQuit 1",
            "R: golden on server: 3; 1 new message, 34 B, 3 deleted on server",
            "P: 1 uid-3 34 delete: downloaded before; the policy deletes after download",
            "P: 2 uid-4 34 delete: downloaded before; the policy deletes after download",
            "P: 3 uid-5 34 fetch: new; deleted on the server after it is stored",
        ],
    );
}

#[tokio::test]
async fn keep_without_pipelining_deletes_at_once() {
    let _turn = one_at_a_time().await;
    let g = Golden::new(2, &[], script(false, true));
    let keep = g.account(policy(Retention::Keep), None);
    same(
        g.run(&keep, &g.opts(0)).await,
        &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: RETR 1",
            "C: RETR 2",
            "C: QUIT",
            "E: start 2 68",
            "E: AfterRetr 1",
            "E: AfterStore 1",
            "E: AfterRecord 1",
            "E: stored 34",
            "E: AfterRetr 2",
            "E: AfterStore 2",
            "E: AfterRecord 2",
            "E: stored 34",
            "E: BeforeQuit 2",
            "R: golden on server: 2; 2 new messages, 68 B",
            "P: 1 uid-1 34 fetch: new; a copy stays on the server",
            "P: 2 uid-2 34 fetch: new; a copy stays on the server",
        ],
    );
    g.server.add(3, false);
    let delete = g.account(policy(Retention::Delete), None);
    same(
        g.run(&delete, &g.opts(0)).await,
        &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: DELE 1",
            "C: DELE 2",
            "C: RETR 3",
            "C: DELE 3",
            "C: QUIT",
            "E: start 1 34",
            "E: AfterRetr 1",
            "E: AfterStore 1",
            "E: AfterRecord 1",
            "E: stored 34",
            "E: AfterDele 1",
            "E: AfterDele 1",
            "E: BeforeQuit 1",
            "R: golden on server: 3; 1 new message, 34 B, 3 deleted on server",
            "P: 1 uid-1 34 delete: downloaded before; the policy deletes after download",
            "P: 2 uid-2 34 delete: downloaded before; the policy deletes after download",
            "P: 3 uid-3 34 fetch: new; deleted on the server after it is stored",
        ],
    );
}

#[tokio::test]
async fn oversize_headers_then_upgrade_and_oversize_skip() {
    let _turn = one_at_a_time().await;
    let g = Golden::new(3, &[2], script(true, true));
    let mut a = g.account(policy(Retention::Delete), None);
    a.policy.max_size = Some(100);
    a.policy.oversize = Oversize::Headers;
    same(g.run(&a, &g.opts(0)).await, &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: RETR 1",
            "C: DELE 1 + TOP 2 0",
            "C: RETR 3",
            "C: DELE 3",
            "C: QUIT",
            "E: start 3 2096",
            "E: AfterRetr 1",
            "E: AfterStore 1",
            "E: AfterRecord 1",
            "E: stored 34",
            "E: AfterDele 1",
            "E: AfterRetr 2",
            "E: AfterStore 2",
            "E: AfterRecord 2",
            "E: stored 2028",
            "E: AfterRetr 3",
            "E: AfterStore 3",
            "E: AfterRecord 3",
            "E: stored 34",
            "E: AfterDele 3",
            "E: BeforeQuit 3",
            "R: golden on server: 3; 3 new messages, 83 B, 2 deleted on server, 1 stored as header only",
            "P: 1 uid-1 34 fetch: new; deleted on the server after it is stored",
            "P: 2 uid-2 2028 fetch-headers: larger than max_size; only the header is stored, the message stays on the server",
            "P: 3 uid-3 34 fetch: new; deleted on the server after it is stored",
        ]);
    same(
        g.run(&a, &g.opts(0)).await,
        &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: QUIT",
            "E: start 0 0",
            "E: BeforeQuit 0",
            "R: golden on server: 1; no new messages",
            "P: 1 uid-2 2028 keep: header stored before; too big to download",
        ],
    );
    a.policy.max_size = Some(10_000);
    same(
        g.run(&a, &g.opts(0)).await,
        &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: RETR 1",
            "C: DELE 1",
            "C: QUIT",
            "E: start 1 2028",
            "E: AfterRetr 1",
            "E: AfterStore 1",
            "E: AfterRecord 1",
            "E: stored 2028",
            "E: AfterDele 1",
            "E: BeforeQuit 1",
            "R: golden on server: 1; 1 new message, 2.0 kB, 1 deleted on server",
            "P: 1 uid-2 2028 fetch: only the header was stored before; it now fits max_size",
        ],
    );

    let g = Golden::new(2, &[1], script(true, true));
    let mut a = g.account(policy(Retention::Delete), None);
    a.policy.max_size = Some(100);
    same(g.run(&a, &g.opts(0)).await, &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: RETR 2",
            "C: DELE 2",
            "C: QUIT",
            "E: start 1 34",
            "E: AfterRetr 1",
            "E: AfterStore 1",
            "E: AfterRecord 1",
            "E: stored 34",
            "E: AfterDele 1",
            "E: BeforeQuit 1",
            "R: golden on server: 2; 1 new message, 34 B, 1 deleted on server, 1 too big, left on server",
            "P: 1 uid-1 2028 skip: 2.0 kB is larger than max_size (100 B)",
            "P: 2 uid-2 34 fetch: new; deleted on the server after it is stored",
        ]);
}

#[tokio::test]
async fn stored_but_unrecorded_messages_are_recorded_and_deleted() {
    let _turn = one_at_a_time().await;
    let g = Golden::new(2, &[], script(true, true));
    let keep = g.account(policy(Retention::Keep), None);
    same(
        g.run(&keep, &g.opts(0)).await,
        &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: RETR 1",
            "C: RETR 2",
            "C: QUIT",
            "E: start 2 68",
            "E: AfterRetr 1",
            "E: AfterStore 1",
            "E: AfterRecord 1",
            "E: stored 34",
            "E: AfterRetr 2",
            "E: AfterStore 2",
            "E: AfterRecord 2",
            "E: stored 34",
            "E: BeforeQuit 2",
            "R: golden on server: 2; 2 new messages, 68 B",
            "P: 1 uid-1 34 fetch: new; a copy stays on the server",
            "P: 2 uid-2 34 fetch: new; a copy stays on the server",
        ],
    );
    std::fs::remove_file(g.dir.join("ledger/golden.ledger")).unwrap_or_else(|e| panic!("{e}"));
    g.server.add(3, false);
    let delete = g.account(policy(Retention::Delete), None);
    same(g.run(&delete, &g.opts(0)).await, &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: DELE 1",
            "C: DELE 2 + RETR 3",
            "C: DELE 3",
            "C: QUIT",
            "E: start 1 34",
            "E: note message 1 (uid-1) was stored by an interrupted run; recorded now",
            "E: note message 2 (uid-2) was stored by an interrupted run; recorded now",
            "E: AfterDele 0",
            "E: AfterRetr 1",
            "E: AfterStore 1",
            "E: AfterRecord 1",
            "E: stored 34",
            "E: AfterDele 1",
            "E: BeforeQuit 1",
            "R: golden on server: 3; 1 new message, 34 B, 3 deleted on server, 2 recovered from an interrupted run",
            "P: 1 uid-1 34 record: stored by an interrupted run; recorded now, not stored again",
            "P: 2 uid-2 34 record: stored by an interrupted run; recorded now, not stored again",
            "P: 3 uid-3 34 fetch: new; deleted on the server after it is stored",
        ]);
}

#[tokio::test]
async fn without_uidl_delete_works_and_keep_is_refused() {
    let _turn = one_at_a_time().await;
    let g = Golden::new(2, &[2], script(true, false));
    let mut a = g.account(policy(Retention::Delete), None);
    a.policy.max_size = Some(100);
    a.policy.oversize = Oversize::Headers;
    same(g.run(&a, &g.opts(0)).await, &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: RETR 1",
            "C: DELE 1",
            "C: QUIT",
            "E: start 1 34",
            "E: AfterRetr 1",
            "E: AfterStore 1",
            "E: AfterRecord 1",
            "E: stored 34",
            "E: AfterDele 1",
            "E: BeforeQuit 1",
            "R: golden on server: 2; 1 new message, 34 B, 1 deleted on server, 1 too big, left on server",
            "P: 1 - 34 fetch: new; deleted on the server after it is stored",
            "P: 2 - 2028 skip: 2.0 kB is larger than max_size (100 B); storing only its header needs UIDL, which this server lacks",
        ]);
    let keep = g.account(policy(Retention::Keep), None);
    same(g.run(&keep, &g.opts(0)).await, &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "error (exit 7): 127.0.0.1 does not support UIDL, so Buzón cannot tell new messages from ones already downloaded — `keep` and `delete_after_days` need UIDL; use the default policy (delete after download) for this server",
            "R: golden on server: 0; no new messages",
        ]);
}

#[tokio::test]
async fn a_deferring_delivery_program_leaves_messages_on_the_server() {
    let _turn = one_at_a_time().await;
    let g = Golden::new(2, &[], script(true, true));
    let mda = Destination::Mda {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), "cat >/dev/null; exit 75".into()],
    };
    let a = g.account(policy(Retention::Delete), Some(mda));
    same(
        g.run(&a, &g.opts(0)).await,
        &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: RETR 1",
            "C: RETR 2",
            "C: QUIT",
            "E: start 2 68",
            "E: AfterRetr 1",
            "E: note /bin/sh asked to try again later (exit 75)",
            "E: AfterRetr 2",
            "E: note /bin/sh asked to try again later (exit 75)",
            "E: BeforeQuit 2",
            "R: golden on server: 2; no new messages, 2 deferred by the delivery program",
            "P: 1 uid-1 34 fetch: new; deleted on the server after it is stored",
            "P: 2 uid-2 34 fetch: new; deleted on the server after it is stored",
            "N: message 1: /bin/sh asked to try again later (exit 75)",
            "N: message 2: /bin/sh asked to try again later (exit 75)",
        ],
    );
}

#[tokio::test]
async fn a_dry_run_lists_the_plan_and_changes_nothing() {
    let _turn = one_at_a_time().await;
    let g = Golden::new(3, &[3], script(true, true));
    let mut a = g.account(policy(Retention::Delete), None);
    a.policy.max_size = Some(100);
    a.policy.limit = Some(1);
    let mut o = g.opts(0);
    o.dry_run = true;
    same(
        g.run(&a, &o).await,
        &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: QUIT",
            "R: golden on server: 3; no new messages, 1 left for the next run (limit)",
            "P: 1 uid-1 34 fetch: new; deleted on the server after it is stored",
            "P: 2 uid-2 34 keep: per-run limit reached; fetched next run",
            "P: 3 uid-3 2028 skip: 2.0 kB is larger than max_size (100 B)",
        ],
    );
}

#[tokio::test]
async fn a_refused_dele_stops_the_run_with_what_was_done() {
    let _turn = one_at_a_time().await;
    let g = Golden::new(
        3,
        &[],
        Script {
            refuse_dele: Some(2),
            ..script(true, true)
        },
    );
    let a = g.account(policy(Retention::Delete), None);
    same(g.run(&a, &g.opts(0)).await, &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: RETR 1",
            "C: DELE 1 + RETR 2",
            "C: DELE 2 + RETR 3",
            "E: start 3 102",
            "E: AfterRetr 1",
            "E: AfterStore 1",
            "E: AfterRecord 1",
            "E: stored 34",
            "E: AfterDele 1",
            "E: AfterRetr 2",
            "E: AfterStore 2",
            "E: AfterRecord 2",
            "E: stored 34",
            "error (exit 7): 127.0.0.1 has a temporary problem ([SYS/TEMP] cannot delete now) — try again later",
            "R: golden on server: 3; 2 new messages, 68 B",
            "P: 1 uid-1 34 fetch: new; deleted on the server after it is stored",
            "P: 2 uid-2 34 fetch: new; deleted on the server after it is stored",
            "P: 3 uid-3 34 fetch: new; deleted on the server after it is stored",
        ]);
    let g = Golden::new(
        3,
        &[],
        Script {
            refuse_dele: Some(2),
            ..script(false, true)
        },
    );
    let a = g.account(policy(Retention::Delete), None);
    same(g.run(&a, &g.opts(0)).await, &[
            "C: CAPA",
            "C: USER u",
            "C: PASS pw",
            "C: LIST",
            "C: UIDL",
            "C: RETR 1",
            "C: DELE 1",
            "C: RETR 2",
            "C: DELE 2",
            "E: start 3 102",
            "E: AfterRetr 1",
            "E: AfterStore 1",
            "E: AfterRecord 1",
            "E: stored 34",
            "E: AfterDele 1",
            "E: AfterRetr 2",
            "E: AfterStore 2",
            "E: AfterRecord 2",
            "E: stored 34",
            "error (exit 7): 127.0.0.1 has a temporary problem ([SYS/TEMP] cannot delete now) — try again later",
            "R: golden on server: 3; 2 new messages, 68 B",
            "P: 1 uid-1 34 fetch: new; deleted on the server after it is stored",
            "P: 2 uid-2 34 fetch: new; deleted on the server after it is stored",
            "P: 3 uid-3 34 fetch: new; deleted on the server after it is stored",
        ]);
}
