//! Loopback tests of the retrieval client against a real `buzon serve` (TestServer), a
//! real Dovecot, and a minimal scripted server (no CAPA, no UIDL, no pipelining): fetch
//! policies and destinations, connection faults at each point of the safety protocol,
//! `check` against broken setups, and `setup` discovery through a local DNS server and a
//! local HTTPS server. Real TCP, real TLS with generated certificates, real Maildirs.

// Helpers outside #[test] functions fail the test by panicking too (clippy.toml's
// allow-unwrap-in-tests covers only the test functions themselves).
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use buzon_client::check::check;
use buzon_client::config::{Account, Oversize, PasswordSource, Policy, Retention};
use buzon_client::discover::{discover, DiscoverOptions};
use buzon_client::fetch::{fetch, FetchOptions, FetchReport, Quiet};
use buzon_client::{
    AuthMethod, Destination, ErrorClass, Fingerprint, Resolver, Secret, Security, ServerSpec,
    Timeouts, TlsSettings,
};
use buzon_server::config::TlsSource;
use buzon_testkit::{
    DnsRecord, Dovecot, DovecotOptions, Fault, FaultProxy, TestCa, TestDns, TestHttps, TestServer,
};

fn msg(i: usize) -> Vec<u8> {
    format!("From: Sender {i} <s{i}@example.test>\nSubject: message {i}\nMessage-ID: <{i}@example.test>\n\n.line starting with a dot\nFrom the body {i}\nbody {}\n", "x".repeat(100 + i)).into_bytes()
}

struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    ca_file: PathBuf,
}

fn env(ca: &TestCa) -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let ca_file = dir.join("ca.pem");
    ca.write_pem(&ca_file);
    Env {
        _tmp: tmp,
        dir,
        ca_file,
    }
}

fn account(
    env: &Env,
    addr: SocketAddr,
    security: Security,
    user: &str,
    dest: Destination,
    retention: Retention,
) -> Account {
    Account {
        name: format!("{user}-test"),
        server: ServerSpec {
            host: "localhost".into(),
            port: addr.port(),
            security,
            tls: TlsSettings {
                ca_file: Some(env.ca_file.clone()),
                no_system_roots: true,
                ..Default::default()
            },
            timeouts: Timeouts {
                connect: Duration::from_secs(5),
                handshake: Duration::from_secs(5),
                read: Duration::from_secs(10),
            },
        },
        user: user.into(),
        auth: AuthMethod::Auto,
        password: PasswordSource::Prompt,
        oauth: None,
        allow_plaintext: security == Security::None,
        destination: dest,
        policy: Policy {
            retention,
            ..Default::default()
        },
    }
}

/// Fetches `a` with the password "pw" and gives its failure, if any.
async fn fetch_failure(a: &Account, e: &Env) -> Option<buzon_client::ClientError> {
    fetch(
        a,
        &Secret::new("pw"),
        &Resolver::system(),
        &opts(e),
        &mut Quiet,
    )
    .await
    .err()
    .map(|f| f.error)
}

/// The failure of [`fetch_failure`] as the user reads it (empty when the fetch succeeded).
async fn fetch_error(a: &Account, e: &Env) -> String {
    fetch_failure(a, e)
        .await
        .map(|err| err.to_string())
        .unwrap_or_default()
}

fn opts(env: &Env) -> FetchOptions {
    FetchOptions::new(env.dir.join("ledger"))
}

async fn run(a: &Account, pw: &str, o: &FetchOptions) -> FetchReport {
    match fetch(a, &Secret::new(pw), &Resolver::system(), o, &mut Quiet).await {
        Ok(r) => r,
        Err(e) => panic!("fetch failed: {e}"),
    }
}

/// Message files of a local Maildir, contents sorted.
fn local_messages(dir: &Path) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for sub in ["new", "cur"] {
        for e in std::fs::read_dir(dir.join(sub))
            .into_iter()
            .flatten()
            .flatten()
        {
            v.push(std::fs::read(e.path()).unwrap_or_default());
        }
    }
    v.sort();
    v
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

// ---------------------------------------------------------------- buzon serve

fn buzon_server(n: usize) -> TestServer {
    let s = TestServer::builder().user("alice", "pw").start();
    for i in 0..n {
        s.deliver("alice", &msg(i));
    }
    s
}

#[tokio::test]
async fn buzon_delete_policy_into_maildir_over_tls_then_nothing_new() {
    let s = buzon_server(3);
    let e = env(&s.ca);
    let md = e.dir.join("Maildir");
    let a = account(
        &e,
        s.pop3s,
        Security::Tls,
        "alice",
        Destination::Maildir(md.clone()),
        Retention::Delete,
    );
    let r = run(&a, "pw", &opts(&e)).await;
    assert_eq!((r.fetched, r.deleted), (3, 3), "{r:?}");
    assert_eq!(
        local_messages(&md),
        sorted((0..3).map(msg).collect()),
        "stored verbatim (LF line ends)"
    );
    assert!(s.message_files("alice").is_empty(), "deleted on the server");
    let r = run(&a, "pw", &opts(&e)).await;
    assert_eq!((r.fetched, r.on_server), (0, 0));
}

#[tokio::test]
async fn buzon_keep_fetches_only_new_messages_over_stls() {
    let s = buzon_server(2);
    let e = env(&s.ca);
    let md = e.dir.join("Maildir");
    let a = account(
        &e,
        s.pop3,
        Security::Starttls,
        "alice",
        Destination::Maildir(md.clone()),
        Retention::Keep,
    );
    assert_eq!(run(&a, "pw", &opts(&e)).await.fetched, 2);
    s.deliver("alice", &msg(7));
    let r = run(&a, "pw", &opts(&e)).await;
    assert_eq!((r.fetched, r.deleted, r.on_server), (1, 0, 3));
    assert_eq!(local_messages(&md).len(), 3);
    assert_eq!(
        s.message_files("alice").len(),
        3,
        "keep leaves every message on the server"
    );
}

#[tokio::test]
async fn buzon_delete_after_days_follows_the_injected_clock() {
    let s = buzon_server(2);
    let e = env(&s.ca);
    let md = e.dir.join("Maildir");
    let a = account(
        &e,
        s.pop3s,
        Security::Tls,
        "alice",
        Destination::Maildir(md.clone()),
        Retention::DeleteAfterDays(3),
    );
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut o = opts(&e);
    o.now = t0;
    assert_eq!(run(&a, "pw", &o).await.fetched, 2);
    o.now = t0 + Duration::from_secs(2 * 86_400);
    let r = run(&a, "pw", &o).await;
    assert_eq!((r.fetched, r.deleted), (0, 0));
    assert_eq!(s.message_files("alice").len(), 2);
    o.now = t0 + Duration::from_secs(3 * 86_400 + 1);
    let r = run(&a, "pw", &o).await;
    assert_eq!((r.fetched, r.deleted), (0, 2));
    assert!(s.message_files("alice").is_empty());
    assert_eq!(local_messages(&md).len(), 2, "never downloaded twice");
}

#[tokio::test]
async fn buzon_max_size_skips_or_stores_headers_and_limit_caps_a_run() {
    let s = buzon_server(0);
    s.deliver("alice", &msg(1));
    let mut big = b"Subject: big one\nFrom: b@example.test\n\n".to_vec();
    big.extend(std::iter::repeat_n(b'y', 5000));
    big.push(b'\n');
    s.deliver("alice", &big);
    let e = env(&s.ca);
    let md = e.dir.join("Maildir");
    let mut a = account(
        &e,
        s.pop3s,
        Security::Tls,
        "alice",
        Destination::Maildir(md.clone()),
        Retention::Delete,
    );
    a.policy.max_size = Some(1000);
    let r = run(&a, "pw", &opts(&e)).await;
    assert_eq!((r.fetched, r.skipped_too_big, r.deleted), (1, 1, 1));
    assert_eq!(s.message_files("alice").len(), 1, "the big one stays");
    a.policy.oversize = Oversize::Headers;
    let r = run(&a, "pw", &opts(&e)).await;
    assert_eq!((r.fetched, r.headers_only, r.deleted), (1, 1, 0));
    let stored = local_messages(&md);
    assert!(
        stored
            .iter()
            .any(|m| m == b"Subject: big one\nFrom: b@example.test\n\n"),
        "header only: {stored:?}"
    );
    assert_eq!(s.message_files("alice").len(), 1);
    // The per-run limit.
    for i in 10..15 {
        s.deliver("alice", &msg(i));
    }
    let mut o = opts(&e);
    o.limit = Some(2);
    let r = run(&a, "pw", &o).await;
    assert_eq!((r.fetched, r.left_by_limit), (2, 3));
}

#[tokio::test]
async fn buzon_mbox_destination_reads_back_with_python_mailbox() {
    let s = buzon_server(3);
    let e = env(&s.ca);
    let mbox = e.dir.join("inbox.mbox");
    let a = account(
        &e,
        s.pop3s,
        Security::Tls,
        "alice",
        Destination::Mbox(mbox.clone()),
        Retention::Delete,
    );
    assert_eq!(run(&a, "pw", &opts(&e)).await.fetched, 3);
    let py = "import mailbox,sys\nfor m in mailbox.mbox(sys.argv[1]):\n    sys.stdout.write(m['Subject']+'|'+m.get_payload().replace('\\n','\\\\n')+'\\n')\n";
    match std::process::Command::new("python3")
        .args(["-c", py])
        .arg(&mbox)
        .output()
    {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 3, "{text}");
            // Python's mailbox module splits mboxrd correctly but leaves the quoting in place.
            assert!(
                lines[0].starts_with("message 0|.line starting with a dot\\n>From the body 0\\n"),
                "{text}"
            );
        }
        Ok(out) => panic!("python3 failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) if std::env::var("BUZON_INTEROP").as_deref() == Ok("1") => {
            panic!("python3 missing: {e}")
        }
        Err(e) => buzon_testkit::skip(&format!(
            "python3 not available ({e}): the mbox was not read back with Python's mailbox module"
        )),
    }
    let text = std::fs::read_to_string(&mbox).unwrap_or_default();
    assert!(text.contains("\n>From the body 1\n"), "mboxrd quoting");
}

fn mda_script(dir: &Path, exit: i32) -> Destination {
    let out = dir.join("mda-out");
    std::fs::create_dir_all(&out).unwrap();
    Destination::Mda {
        program: "/bin/sh".into(),
        args: vec![
            "-c".into(),
            format!("cat > \"$0\"/m.$$; exit {exit}"),
            out.display().to_string(),
        ],
    }
}

#[tokio::test]
async fn buzon_mda_destination_exit_0_delivers_and_75_defers() {
    let s = buzon_server(2);
    let e = env(&s.ca);
    let a = account(
        &e,
        s.pop3s,
        Security::Tls,
        "alice",
        mda_script(&e.dir, 75),
        Retention::Delete,
    );
    let r = run(&a, "pw", &opts(&e)).await;
    assert_eq!(
        (r.fetched, r.deferred, r.deleted),
        (0, 2, 0),
        "75 leaves them on the server"
    );
    assert_eq!(s.message_files("alice").len(), 2);
    std::fs::remove_dir_all(e.dir.join("mda-out")).unwrap();
    let a = account(
        &e,
        s.pop3s,
        Security::Tls,
        "alice",
        mda_script(&e.dir, 0),
        Retention::Delete,
    );
    let r = run(&a, "pw", &opts(&e)).await;
    assert_eq!((r.fetched, r.deleted), (2, 2));
    let got = local_messages_flat(&e.dir.join("mda-out"));
    assert_eq!(got, sorted((0..2).map(msg).collect()));
}

fn local_messages_flat(dir: &Path) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| std::fs::read(e.path()).unwrap_or_default())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn plaintext_password_is_refused_without_allow_plaintext_and_pin_works() {
    let s = buzon_server(1);
    let e = env(&s.ca);
    let md = e.dir.join("Maildir");
    let mut a = account(
        &e,
        s.pop3,
        Security::None,
        "alice",
        Destination::Maildir(md.clone()),
        Retention::Keep,
    );
    a.allow_plaintext = false;
    let err = fetch_failure(&a, &e).await;
    assert!(
        matches!(
            err,
            Some(buzon_client::ClientError::PlaintextNotAllowed { .. })
        ),
        "{err:?}"
    );
    // Pinning the certificate's fingerprint instead of trusting a CA.
    let der = std::fs::read_to_string(match &s.config.tls {
        TlsSource::Files { certificate, .. } => certificate.clone(),
        other => panic!("{other:?}"),
    })
    .unwrap_or_default();
    let der = rustls_pki_types::pem::PemObject::from_pem_slice(der.as_bytes())
        .map(|c: rustls_pki_types::CertificateDer| c.to_vec())
        .unwrap_or_default();
    let mut a = account(
        &e,
        s.pop3s,
        Security::Tls,
        "alice",
        Destination::Maildir(md.clone()),
        Retention::Keep,
    );
    a.server.tls = TlsSettings {
        fingerprint: Some(Fingerprint::of(&der)),
        no_system_roots: true,
        ..Default::default()
    };
    assert_eq!(run(&a, "pw", &opts(&e)).await.fetched, 1);
    a.server.tls.fingerprint = Some(Fingerprint::of(b"another certificate"));
    let err = fetch_error(&a, &e).await;
    assert!(
        err.contains("does not match the pinned fingerprint"),
        "{err}"
    );
}

// ---------------------------------------------------------------- faults

/// Drop the connection at a point of the safety protocol, then run cleanly: every
/// message exactly once locally, and deleted on the server (delete policy).
async fn fault_then_clean(fault: Fault, mbox: bool) {
    let s = buzon_server(4);
    let e = env(&s.ca);
    let md = e.dir.join("Maildir");
    let mb = e.dir.join("mbox");
    let dest = if mbox {
        Destination::Mbox(mb.clone())
    } else {
        Destination::Maildir(md.clone())
    };
    let proxy = FaultProxy::start(s.pop3, fault.clone());
    let a = account(
        &e,
        proxy.addr,
        Security::None,
        "alice",
        dest.clone(),
        Retention::Delete,
    );
    let first = fetch(
        &a,
        &Secret::new("pw"),
        &Resolver::system(),
        &opts(&e),
        &mut Quiet,
    )
    .await;
    assert!(proxy.has_fired(), "{fault:?} never happened");
    if let Ok(r) = &first {
        // A cut after QUIT was forwarded: the server committed, the client saw an error or not.
        eprintln!("first run completed: {r:?}");
    }
    // The server notices the cut connection on its own time; until then the mailbox is
    // rightly in use (and the clean run would stop at [IN-USE]).
    s.wait_mailbox_free("alice");
    let a = account(&e, s.pop3, Security::None, "alice", dest, Retention::Delete);
    let r = run(&a, "pw", &opts(&e)).await;
    assert!(
        s.message_files("alice").is_empty(),
        "{fault:?}: left on the server after the clean run: {r:?}"
    );
    let want = sorted((0..4).map(msg).collect());
    if mbox {
        let text = std::fs::read(&mb).unwrap_or_default();
        let count = text.windows(6).filter(|w| w == b"\nFrom ").count()
            + usize::from(text.starts_with(b"From "));
        assert_eq!(count, 4, "{fault:?}: mbox has {count} entries");
        for i in 0..4 {
            let needle = format!("Subject: message {i}\n");
            assert_eq!(
                String::from_utf8_lossy(&text).matches(&needle).count(),
                1,
                "{fault:?}: message {i}"
            );
        }
    } else {
        assert_eq!(
            local_messages(&md),
            want,
            "{fault:?}: every message exactly once"
        );
    }
}

#[tokio::test]
async fn drop_during_retr_then_clean_run() {
    // Greeting + CAPA + USER/PASS + LIST + UIDL replies are a few hundred bytes; cut inside the second RETR.
    fault_then_clean(Fault::AfterServerBytes(900), false).await;
}

#[tokio::test]
async fn drop_after_store_before_next_command_then_clean_run() {
    fault_then_clean(
        Fault::BeforeCommand {
            prefix: "RETR".into(),
            nth: 2,
        },
        false,
    )
    .await;
}

#[tokio::test]
async fn drop_after_record_before_dele_then_clean_run() {
    fault_then_clean(
        Fault::BeforeCommand {
            prefix: "DELE".into(),
            nth: 1,
        },
        false,
    )
    .await;
}

#[tokio::test]
async fn drop_after_dele_before_quit_then_clean_run() {
    fault_then_clean(
        Fault::BeforeCommand {
            prefix: "QUIT".into(),
            nth: 1,
        },
        false,
    )
    .await;
}

#[tokio::test]
async fn drop_after_quit_sent_before_its_reply_then_clean_run() {
    fault_then_clean(
        Fault::AfterCommand {
            prefix: "QUIT".into(),
            nth: 1,
        },
        false,
    )
    .await;
}

#[tokio::test]
async fn drop_at_each_point_with_an_mbox_destination() {
    for f in [
        Fault::AfterServerBytes(900),
        Fault::BeforeCommand {
            prefix: "RETR".into(),
            nth: 3,
        },
        Fault::BeforeCommand {
            prefix: "DELE".into(),
            nth: 2,
        },
        Fault::BeforeCommand {
            prefix: "QUIT".into(),
            nth: 1,
        },
    ] {
        fault_then_clean(f, true).await;
    }
}

// ---------------------------------------------------------------- a minimal server

/// The mini server's messages; `None` once deleted.
type MiniStore = Arc<Mutex<Vec<Option<Vec<u8>>>>>;

/// A POP3 server with no CAPA, optionally no UIDL, that answers one command at a time.
fn mini_server(messages: Vec<Vec<u8>>, uidl: bool) -> (SocketAddr, MiniStore) {
    let m = Mini::start(
        messages,
        MiniOpts {
            uidl,
            ..Default::default()
        },
    );
    (m.addr, m.store)
}

/// What the scripted server offers.
#[derive(Clone, Default)]
struct MiniOpts {
    uidl: bool,
    /// CAPA lines (without the terminator); `None`: CAPA is an unknown command.
    capa: Option<Vec<&'static str>>,
    /// The greeting's text after "+OK " (default "mini ready").
    greeting: Option<&'static str>,
    /// Implicit TLS with this configuration.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// The SCRAM-SHA-256 iteration count it asks for.
    scram_iterations: u32,
    /// LIST answers this many extra entries beyond the real messages.
    list_extra: usize,
    /// UIDL answers a unique-id of this many characters for message 1.
    uidl_len: Option<usize>,
}

/// A running scripted server: its address, its messages, and every command line it
/// received (to prove what a client did not send).
struct Mini {
    addr: SocketAddr,
    store: MiniStore,
    log: Arc<Mutex<Vec<String>>>,
}

impl Mini {
    fn commands(&self) -> Vec<String> {
        self.log.lock().map(|g| g.clone()).unwrap_or_default()
    }
    /// Commands that carry credentials (USER, PASS, APOP, AUTH and SASL responses).
    fn logins(&self) -> Vec<String> {
        self.commands()
            .into_iter()
            .filter(|c| {
                let u = c.to_ascii_uppercase();
                !(u.starts_with("CAPA")
                    || u.starts_with("QUIT")
                    || u.starts_with("STAT")
                    || u.starts_with("LIST")
                    || u.starts_with("UIDL")
                    || u.starts_with("RETR")
                    || u.starts_with("DELE")
                    || u.starts_with("TOP")
                    || u.starts_with("NOOP")
                    || u.starts_with("STLS"))
            })
            .collect()
    }

    fn start(messages: Vec<Vec<u8>>, o: MiniOpts) -> Mini {
        let store = Arc::new(Mutex::new(
            messages.into_iter().map(Some).collect::<Vec<_>>(),
        ));
        let log = Arc::new(Mutex::new(Vec::new()));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (st, lg) = (store.clone(), log.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().take(20) {
                let Ok(conn) = conn else { return };
                let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                let (st, lg, o) = (st.clone(), lg.clone(), o.clone());
                std::thread::spawn(move || match o.tls.clone() {
                    Some(cfg) => {
                        let Ok(c) = rustls::ServerConnection::new(cfg) else {
                            return;
                        };
                        mini_session(rustls::StreamOwned::new(c, conn), &st, &lg, &o)
                    }
                    None => mini_session(conn, &st, &lg, &o),
                });
            }
        });
        Mini { addr, store, log }
    }
}

fn mini_session<S: std::io::Read + Write>(
    conn: S,
    st: &MiniStore,
    lg: &Mutex<Vec<String>>,
    o: &MiniOpts,
) {
    let mut r = BufReader::new(conn);
    let greeting = format!("+OK {}\r\n", o.greeting.unwrap_or("mini ready"));
    let _ = r.get_mut().write_all(greeting.as_bytes());
    let _ = r.get_mut().flush();
    let mut dele = HashSet::new();
    let mut scram_nonce: Option<String> = None;
    // Stuffed, CRLF-terminated lines (the messages all end with a newline).
    let wire = |m: &[u8]| -> Vec<u8> {
        let mut out = Vec::new();
        for l in m.strip_suffix(b"\n").unwrap_or(m).split(|&b| b == b'\n') {
            if l.starts_with(b".") {
                out.push(b'.');
            }
            out.extend_from_slice(l);
            out.extend_from_slice(b"\r\n");
        }
        out
    };
    for _ in 0..10_000 {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Ok(mut g) = lg.lock() {
            g.push(line.trim_end().to_string());
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        let arg = cmd
            .split(' ')
            .nth(1)
            .and_then(|a| a.parse::<usize>().ok())
            .unwrap_or(0);
        let msgs = st.lock().map(|g| g.clone()).unwrap_or_default();
        let reply: Vec<u8> = if let Some(nonce) = scram_nonce.take() {
            if cmd == "*" {
                b"-ERR aborted\r\n".to_vec()
            } else {
                let _ = nonce;
                b"-ERR [AUTH] wrong\r\n".to_vec()
            }
        } else if cmd.starts_with("AUTH SCRAM-SHA-256 ") {
            let b64 = line.trim_end().rsplit(' ').next().unwrap_or_default();
            let first = buzon_pop3_proto::sasl::decode_base64(b64.as_bytes())
                .map(|s| String::from_utf8_lossy(s.expose()).into_owned())
                .unwrap_or_default();
            let cnonce = first
                .split(',')
                .find_map(|a| a.strip_prefix("r="))
                .unwrap_or_default()
                .to_string();
            let nonce = format!("{cnonce}srvnonce");
            let sf = format!("r={nonce},s=QUFBQUFBQUE=,i={}", o.scram_iterations);
            scram_nonce = Some(nonce);
            format!(
                "+ {}\r\n",
                buzon_pop3_proto::sasl::encode_base64(sf.as_bytes())
            )
            .into_bytes()
        } else if cmd.starts_with("USER") || cmd.starts_with("PASS") || cmd == "NOOP" {
            b"+OK\r\n".to_vec()
        } else if cmd.starts_with("APOP") || cmd.starts_with("AUTH") {
            b"-ERR [AUTH] no\r\n".to_vec()
        } else if cmd == "CAPA" {
            match &o.capa {
                Some(lines) => {
                    let mut s = b"+OK\r\n".to_vec();
                    for l in lines {
                        s.extend(format!("{l}\r\n").into_bytes());
                    }
                    s.extend_from_slice(b".\r\n");
                    s
                }
                None => b"-ERR unknown command\r\n".to_vec(),
            }
        } else if cmd == "LIST" {
            let mut s = b"+OK\r\n".to_vec();
            for (i, m) in msgs.iter().enumerate() {
                if let Some(m) = m {
                    s.extend(format!("{} {}\r\n", i + 1, wire(m).len()).into_bytes());
                }
            }
            for i in 0..o.list_extra {
                s.extend(format!("{} 100\r\n", msgs.len() + i + 1).into_bytes());
            }
            s.extend_from_slice(b".\r\n");
            s
        } else if cmd == "UIDL" && o.uidl {
            let mut s = b"+OK\r\n".to_vec();
            for (i, m) in msgs.iter().enumerate() {
                if m.is_some() {
                    match o.uidl_len {
                        Some(n) if i == 0 => {
                            s.extend(format!("1 {}\r\n", "u".repeat(n)).into_bytes())
                        }
                        _ => s.extend(format!("{} mini-{i}\r\n", i + 1).into_bytes()),
                    }
                }
            }
            s.extend_from_slice(b".\r\n");
            s
        } else if cmd.starts_with("RETR") {
            match msgs.get(arg.wrapping_sub(1)).cloned().flatten() {
                Some(m) => [b"+OK\r\n".to_vec(), wire(&m), b".\r\n".to_vec()].concat(),
                None => b"-ERR no such message\r\n".to_vec(),
            }
        } else if cmd.starts_with("DELE") {
            dele.insert(arg);
            b"+OK\r\n".to_vec()
        } else if cmd == "QUIT" {
            if let Ok(mut g) = st.lock() {
                for d in &dele {
                    if let Some(slot) = g.get_mut(d.wrapping_sub(1)) {
                        *slot = None;
                    }
                }
            }
            let _ = r.get_mut().write_all(b"+OK bye\r\n");
            let _ = r.get_mut().flush();
            break;
        } else {
            b"-ERR unknown command\r\n".to_vec()
        };
        if r.get_mut().write_all(&reply).is_err() || r.get_mut().flush().is_err() {
            break;
        }
    }
}

/// A rustls server configuration with a certificate from `ca` for `names`.
fn tls_config(ca: &TestCa, dir: &Path, names: &[&str]) -> Arc<rustls::ServerConfig> {
    let cert = ca.issue(dir, names, (-1, 30));
    server_config_from(&cert.cert_path, &cert.key_path)
}

fn server_config_from(cert: &Path, key: &Path) -> Arc<rustls::ServerConfig> {
    use rustls_pki_types::pem::PemObject;
    let certs: Vec<rustls_pki_types::CertificateDer<'static>> =
        rustls_pki_types::CertificateDer::pem_file_iter(cert)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(key).unwrap();
    Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    )
}

#[tokio::test]
async fn no_password_derived_login_on_an_unencrypted_connection_without_allow_plaintext() {
    // The server offers everything: SCRAM, PLAIN, LOGIN, USER, and APOP (timestamp).
    let m = Mini::start(
        vec![msg(0)],
        MiniOpts {
            uidl: true,
            capa: Some(vec!["SASL SCRAM-SHA-256 PLAIN LOGIN", "USER", "UIDL"]),
            greeting: Some("mini ready <1896.697170952@mini.example>"),
            scram_iterations: 4096,
            ..Default::default()
        },
    );
    let ca = TestCa::new();
    let e = env(&ca);
    for method in [
        AuthMethod::Auto,
        AuthMethod::ScramSha256,
        AuthMethod::Apop,
        AuthMethod::Plain,
        AuthMethod::Login,
        AuthMethod::User,
    ] {
        let mut a = account(
            &e,
            m.addr,
            Security::None,
            "bob",
            Destination::Maildir(e.dir.join("Maildir")),
            Retention::Delete,
        );
        a.allow_plaintext = false;
        a.auth = method;
        let err = fetch_failure(&a, &e).await;
        assert!(
            matches!(
                err,
                Some(buzon_client::ClientError::PlaintextNotAllowed { .. })
            ),
            "{method:?}: {err:?}"
        );
        // `buzon check` refuses the same way.
        let r = check_of(&a, Some("pw")).await;
        let login = step(&r, "login");
        assert!(!login.ok && login.class == Some(ErrorClass::Auth), "{r:#?}");
    }
    assert_eq!(
        m.logins(),
        Vec::<String>::new(),
        "no credentials reached the server"
    );
}

#[tokio::test]
async fn scram_with_fewer_than_4096_iterations_is_refused_before_any_proof_is_sent() {
    let ca = TestCa::new();
    let e = env(&ca);
    let m = Mini::start(
        vec![msg(0)],
        MiniOpts {
            uidl: true,
            capa: Some(vec!["SASL SCRAM-SHA-256", "UIDL"]),
            tls: Some(tls_config(&ca, &e.dir.join("certs"), &["localhost"])),
            scram_iterations: 1,
            ..Default::default()
        },
    );
    let a = account(
        &e,
        m.addr,
        Security::Tls,
        "bob",
        Destination::Maildir(e.dir.join("Maildir")),
        Retention::Delete,
    );
    let err = fetch_error(&a, &e).await;
    assert!(
        err.contains("fewer than 4096 iterations") && err.contains("RFC 7677"),
        "{err}"
    );
    // The server logs asynchronously: wait (bounded) for the line after AUTH.
    let cmds = buzon_testkit::wait_for(Duration::from_secs(10), "the line after AUTH", || {
        let cmds = m.commands();
        cmds.iter().any(|c| c == "*").then_some(cmds)
    });
    let auth = cmds
        .iter()
        .position(|c| c.starts_with("AUTH SCRAM-SHA-256 "))
        .unwrap_or_else(|| panic!("no AUTH: {cmds:?}"));
    assert_eq!(
        cmds.get(auth + 1).map(String::as_str),
        Some("*"),
        "the exchange is aborted, no client proof sent: {cmds:?}"
    );
}

#[tokio::test]
async fn server_without_capa_uidl_or_pipelining_works_with_delete_and_refuses_keep() {
    let (addr, store) = mini_server((0..3).map(msg).collect(), false);
    let ca = TestCa::new();
    let e = env(&ca);
    let md = e.dir.join("Maildir");
    let a = account(
        &e,
        addr,
        Security::None,
        "bob",
        Destination::Maildir(md.clone()),
        Retention::Keep,
    );
    let err = fetch_failure(&a, &e).await;
    assert!(
        matches!(err, Some(buzon_client::ClientError::KeepNeedsUidl { .. })),
        "{err:?}"
    );
    let a = account(
        &e,
        addr,
        Security::None,
        "bob",
        Destination::Maildir(md.clone()),
        Retention::Delete,
    );
    let r = run(&a, "pw", &opts(&e)).await;
    assert_eq!((r.fetched, r.deleted), (3, 3));
    assert_eq!(local_messages(&md), sorted((0..3).map(msg).collect()));
    assert!(store
        .lock()
        .map(|g| g.iter().all(Option::is_none))
        .unwrap_or(false));
}

#[tokio::test]
async fn hostile_listings_are_refused_with_a_clear_error_and_nothing_deleted() {
    let ca = TestCa::new();
    let e = env(&ca);
    for (o, want) in [
        (
            MiniOpts {
                uidl: true,
                list_extra: 1_000_000,
                ..Default::default()
            },
            "more than 1000000 lines",
        ),
        (
            MiniOpts {
                uidl: true,
                uidl_len: Some(600),
                ..Default::default()
            },
            "RFC 1939 allows at most 512",
        ),
    ] {
        let m = Mini::start(vec![msg(0)], o);
        let a = account(
            &e,
            m.addr,
            Security::None,
            "bob",
            Destination::Maildir(e.dir.join("Maildir")),
            Retention::Delete,
        );
        let err = fetch_error(&a, &e).await;
        assert!(err.contains(want), "{err}");
        assert!(
            !m.commands()
                .iter()
                .any(|c| c.starts_with("RETR") || c.starts_with("DELE")),
            "{:?}",
            m.commands()
        );
    }
}

#[tokio::test]
async fn without_uidl_byte_identical_messages_are_different_messages_and_all_stored() {
    // Two genuinely different deliveries that happen to be byte-identical: without UIDL
    // nothing says they are the same message, so both are stored (as fetchmail and mpop
    // do), in one run and across runs.
    let (addr, store) = mini_server(vec![msg(0), msg(0), msg(1)], false);
    let ca = TestCa::new();
    let e = env(&ca);
    let md = e.dir.join("Maildir");
    let a = account(
        &e,
        addr,
        Security::None,
        "bob",
        Destination::Maildir(md.clone()),
        Retention::Delete,
    );
    let r = run(&a, "pw", &opts(&e)).await;
    assert_eq!((r.fetched, r.recovered, r.deleted), (3, 0, 3), "{r:?}");
    assert_eq!(local_messages(&md), sorted(vec![msg(0), msg(0), msg(1)]));
    // The same bytes arrive once more, later: a new message again.
    if let Ok(mut g) = store.lock() {
        g.push(Some(msg(0)));
    }
    let r = run(&a, "pw", &opts(&e)).await;
    assert_eq!((r.fetched, r.recovered, r.deleted), (1, 0, 1), "{r:?}");
    assert_eq!(
        local_messages(&md),
        sorted(vec![msg(0), msg(0), msg(0), msg(1)])
    );
}

#[tokio::test]
async fn without_uidl_an_interrupted_run_stores_again_and_loses_nothing() {
    // Cut before QUIT: the server deleted nothing; without UIDL the next run cannot know
    // which of its messages were stored, so it stores them again (at least once).
    let (addr, store) = mini_server((0..3).map(msg).collect(), false);
    let ca = TestCa::new();
    let e = env(&ca);
    let md = e.dir.join("Maildir");
    let proxy = FaultProxy::start(
        addr,
        Fault::BeforeCommand {
            prefix: "QUIT".into(),
            nth: 1,
        },
    );
    let a = account(
        &e,
        proxy.addr,
        Security::None,
        "bob",
        Destination::Maildir(md.clone()),
        Retention::Delete,
    );
    assert!(fetch(
        &a,
        &Secret::new("pw"),
        &Resolver::system(),
        &opts(&e),
        &mut Quiet
    )
    .await
    .is_err());
    assert!(proxy.has_fired());
    let a = account(
        &e,
        addr,
        Security::None,
        "bob",
        Destination::Maildir(md.clone()),
        Retention::Delete,
    );
    let r = run(&a, "pw", &opts(&e)).await;
    assert_eq!((r.fetched, r.recovered, r.deleted), (3, 0, 3), "{r:?}");
    let mut want: Vec<Vec<u8>> = (0..3).map(msg).collect();
    want.extend((0..3).map(msg));
    assert_eq!(local_messages(&md), sorted(want));
    assert!(store
        .lock()
        .map(|g| g.iter().all(Option::is_none))
        .unwrap_or(false));
    // The ledger keeps nothing for a server without UIDL.
    let ledger =
        std::fs::read_to_string(e.dir.join("ledger").join("bob-test.ledger")).unwrap_or_default();
    assert!(!ledger.contains(" S "), "{ledger}");
}

#[test]
fn an_mbox_locked_by_another_program_is_an_error_after_a_bounded_wait_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mbox = tmp.path().join("mail.mbox");
    std::fs::write(&mbox, b"").unwrap();
    // Another program (a mail reader) holds the mbox's fcntl lock.
    let mut holder = match std::process::Command::new("python3")
        .args([
            "-c",
            "import fcntl, sys, time\nf = open(sys.argv[1], 'a')\nfcntl.lockf(f, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)\n",
        ])
        .arg(&mbox)
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            buzon_testkit::skip(&format!(
                "python3 not available ({e}): no other program can hold the mbox lock"
            ));
            return;
        }
    };
    let mut line = String::new();
    if let Some(out) = holder.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    assert_eq!(line.trim(), "locked");
    let (tx, rx) = std::sync::mpsc::channel();
    let path = mbox.clone();
    std::thread::spawn(move || {
        let r = buzon_client::deliver::MboxLock::acquire_within(&path, Duration::from_secs(1))
            .map(|_| ())
            .map_err(|e| e.to_string());
        let _ = tx.send(r);
    });
    let r = rx.recv_timeout(Duration::from_secs(20));
    let _ = holder.kill();
    let _ = holder.wait();
    let err = match r {
        Ok(Err(e)) => e,
        Ok(Ok(())) => panic!("the lock was taken although another program holds it"),
        Err(_) => panic!("still waiting for the fcntl lock after 20 s (no bounded wait)"),
    };
    assert!(
        err.contains(&mbox.display().to_string())
            && err.contains("locked (fcntl) by process")
            && err.contains("python3")
            && err.contains("for more than 1 s"),
        "{err}"
    );
    // The dotlock taken meanwhile is gone again.
    assert!(!tmp.path().join("mail.mbox.lock").exists());
}

// ---------------------------------------------------------------- Dovecot

fn dovecot() -> Option<Dovecot> {
    match buzon_testkit::dovecot::dovecot_available() {
        Ok(bin) => Some(Dovecot::start(&bin, DovecotOptions::default())),
        Err(e) => {
            buzon_testkit::skip(&format!("Dovecot is not usable: {e}"));
            None
        }
    }
}

fn dovecot_fill(d: &Dovecot, n: std::ops::Range<usize>) {
    for i in n {
        d.deliver(
            "alice",
            &format!("{}.M{i}P1.test,S={}", 1_700_000_000 + i, msg(i).len()),
            &msg(i),
        );
    }
}

#[tokio::test]
async fn dovecot_policies_and_destinations() {
    let Some(d) = dovecot() else { return };
    let ca_file = d.ca_file();
    let e = Env {
        _tmp: tempfile::tempdir().unwrap(),
        dir: d.dir.path().join("client"),
        ca_file,
    };
    std::fs::create_dir_all(&e.dir).unwrap();

    // keep over STLS (SCRAM-SHA-256 is offered and chosen), then new messages only.
    dovecot_fill(&d, 0..2);
    let md = e.dir.join("Maildir");
    let a = account(
        &e,
        d.pop3,
        Security::Starttls,
        "alice",
        Destination::Maildir(md.clone()),
        Retention::Keep,
    );
    let r = run(&a, "secret", &opts(&e)).await;
    assert_eq!((r.fetched, r.deleted), (2, 0), "{r:?}\n{}", d.log());
    dovecot_fill(&d, 2..3);
    assert_eq!(run(&a, "secret", &opts(&e)).await.fetched, 1);
    assert_eq!(d.message_count("alice"), 3);

    // delete_after_days with an injected clock.
    let mut a2 = a.clone();
    a2.policy.retention = Retention::DeleteAfterDays(2);
    let mut o = opts(&e);
    o.now = SystemTime::now() + Duration::from_secs(86_400);
    assert_eq!(run(&a2, "secret", &o).await.deleted, 0);
    o.now = SystemTime::now() + Duration::from_secs(2 * 86_400 + 10);
    assert_eq!(run(&a2, "secret", &o).await.deleted, 3);
    assert_eq!(d.message_count("alice"), 0);
    assert_eq!(local_messages(&md), sorted((0..3).map(msg).collect()));

    // delete policy over POP3S into an mbox, with max_size skipping a big one.
    dovecot_fill(&d, 3..5);
    let mut big = b"Subject: big\n\n".to_vec();
    big.extend(std::iter::repeat_n(b'z', 4000));
    d.deliver("alice", "1800000000.Mbig.test", &big);
    let mb = e.dir.join("mbox");
    let mut a3 = account(
        &e,
        d.pop3s,
        Security::Tls,
        "alice",
        Destination::Mbox(mb.clone()),
        Retention::Delete,
    );
    a3.name = "dovecot-mbox".into();
    a3.policy.max_size = Some(2000);
    let r = run(&a3, "secret", &opts(&e)).await;
    assert_eq!(
        (r.fetched, r.deleted, r.skipped_too_big),
        (2, 2, 1),
        "{r:?}"
    );
    assert_eq!(d.message_count("alice"), 1);
    let text = std::fs::read_to_string(&mb).unwrap_or_default();
    assert_eq!(text.matches("\nSubject: message ").count(), 2);

    // the MDA, with headers-only for the big one (it stays on the server).
    let mut a4 = account(
        &e,
        d.pop3s,
        Security::Tls,
        "alice",
        mda_script(&e.dir, 0),
        Retention::Delete,
    );
    a4.name = "dovecot-mda".into();
    a4.policy.max_size = Some(2000);
    a4.policy.oversize = Oversize::Headers;
    dovecot_fill(&d, 5..6);
    let r = run(&a4, "secret", &opts(&e)).await;
    assert_eq!((r.fetched, r.headers_only, r.deleted), (2, 1, 1), "{r:?}");
    let got = local_messages_flat(&e.dir.join("mda-out"));
    assert!(
        got.contains(&msg(5)) && got.contains(&b"Subject: big\n\n".to_vec()),
        "{got:?}"
    );
    assert_eq!(d.message_count("alice"), 1);
}

#[tokio::test]
async fn dovecot_fault_at_each_point_then_clean_run() {
    let Some(d) = dovecot() else { return };
    let e = Env {
        _tmp: tempfile::tempdir().unwrap(),
        dir: d.dir.path().join("client"),
        ca_file: d.ca_file(),
    };
    std::fs::create_dir_all(&e.dir).unwrap();
    let md = e.dir.join("Maildir");
    let mut round = 0;
    for f in [
        Fault::AfterServerBytes(700),
        Fault::BeforeCommand {
            prefix: "RETR".into(),
            nth: 2,
        },
        Fault::BeforeCommand {
            prefix: "DELE".into(),
            nth: 1,
        },
        Fault::BeforeCommand {
            prefix: "QUIT".into(),
            nth: 1,
        },
        Fault::AfterCommand {
            prefix: "QUIT".into(),
            nth: 1,
        },
    ] {
        dovecot_fill(&d, round * 3..round * 3 + 3);
        round += 1;
        let proxy = FaultProxy::start(d.pop3, f.clone());
        let a = account(
            &e,
            proxy.addr,
            Security::None,
            "alice",
            Destination::Maildir(md.clone()),
            Retention::Delete,
        );
        let _ = fetch(
            &a,
            &Secret::new("secret"),
            &Resolver::system(),
            &opts(&e),
            &mut Quiet,
        )
        .await;
        assert!(proxy.has_fired(), "{f:?}");
        let a = account(
            &e,
            d.pop3,
            Security::None,
            "alice",
            Destination::Maildir(md.clone()),
            Retention::Delete,
        );
        run(&a, "secret", &opts(&e)).await;
        assert_eq!(d.message_count("alice"), 0, "{f:?}");
        assert_eq!(
            local_messages(&md),
            sorted((0..round * 3).map(msg).collect()),
            "{f:?}"
        );
    }
}

// ---------------------------------------------------------------- check

fn step<'a>(r: &'a buzon_client::check::CheckReport, name: &str) -> &'a buzon_client::check::Step {
    r.steps
        .iter()
        .find(|s| s.step == name)
        .unwrap_or_else(|| panic!("no step {name}: {r:#?}"))
}

async fn check_of(a: &Account, pw: Option<&str>) -> buzon_client::check::CheckReport {
    let pw = pw.map(Secret::new);
    check(a, pw.as_ref(), &Resolver::system()).await
}

/// A buzon server whose certificate is issued by `ca` for `names`, valid `days`.
fn server_with_cert(
    names: &'static [&'static str],
    days: (i64, i64),
) -> (TestServer, TestCa, tempfile::TempDir) {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let cert = ca.issue(dir.path(), names, days);
    let s = TestServer::builder()
        .user("alice", "pw")
        .config(move |c| {
            c.tls = TlsSource::Files {
                certificate: cert.cert_path,
                key: cert.key_path,
            }
        })
        .start();
    (s, ca, dir)
}

#[tokio::test]
async fn check_walks_every_step_of_a_good_account() {
    let s = buzon_server(2);
    let e = env(&s.ca);
    let a = account(
        &e,
        s.pop3,
        Security::Starttls,
        "alice",
        Destination::Maildir(e.dir.join("m")),
        Retention::Keep,
    );
    let r = check_of(&a, Some("pw")).await;
    assert!(r.ok, "{r:#?}");
    let names: Vec<&str> = r.steps.iter().map(|s| s.step).collect();
    assert_eq!(
        names,
        ["DNS", "TCP", "greeting", "CAPA", "STLS", "login", "STAT"]
    );
    assert!(
        step(&r, "STAT").detail.starts_with("2 messages waiting"),
        "{r:#?}"
    );
}

#[tokio::test]
async fn check_explains_broken_setups() {
    let s = buzon_server(0);
    let e = env(&s.ca);
    let dest = || Destination::Maildir(PathBuf::from("/nonexistent"));

    // Closed port.
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let r = check_of(
        &account(&e, closed, Security::Tls, "alice", dest(), Retention::Keep),
        None,
    )
    .await;
    let t = step(&r, "TCP");
    assert!(
        !t.ok
            && t.detail.contains("connection refused")
            && t.fix.as_deref().unwrap_or("").contains("995"),
        "{r:#?}"
    );
    assert_eq!(r.failure(), Some(ErrorClass::Connection));

    // Unknown host.
    let mut a = account(&e, s.pop3s, Security::Tls, "alice", dest(), Retention::Keep);
    a.server.host = "no-such-host.invalid".into();
    let r = check_of(&a, None).await;
    assert_eq!(r.failure(), Some(ErrorClass::Dns), "{r:#?}");

    // A server that accepts and never greets.
    let silent = FaultProxy::start(s.pop3, Fault::Silent);
    let mut a = account(
        &e,
        silent.addr,
        Security::Starttls,
        "alice",
        dest(),
        Retention::Keep,
    );
    a.server.timeouts.read = Duration::from_secs(1);
    a.server.timeouts.handshake = Duration::from_secs(1);
    let r = check_of(&a, None).await;
    assert!(
        step(&r, "greeting").detail.contains("sent no greeting"),
        "{r:#?}"
    );

    // A port that drops connection attempts: a listener with a full backlog.
    let full = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    full.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    full.listen(0).unwrap();
    let full_addr = full
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("addr");
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(c) = std::net::TcpStream::connect_timeout(&full_addr, Duration::from_millis(300))
        {
            fillers.push(c);
        }
    }
    let mut a = account(
        &e,
        full_addr,
        Security::Tls,
        "alice",
        dest(),
        Retention::Keep,
    );
    a.server.timeouts.connect = Duration::from_secs(1);
    let r = check_of(&a, None).await;
    let t = step(&r, "TCP");
    assert!(
        !t.ok
            && t.detail.contains("no answer")
            && t.fix.as_deref().unwrap_or("").contains("firewall"),
        "{r:#?}"
    );

    // TLS spoken to the plain port, and plain POP3 to the TLS port.
    let r = check_of(
        &account(&e, s.pop3, Security::Tls, "alice", dest(), Retention::Keep),
        None,
    )
    .await;
    let t = step(&r, "TLS");
    assert!(
        !t.ok && t.fix.as_deref().unwrap_or("").contains("starttls"),
        "{r:#?}"
    );
    let mut a = account(
        &e,
        s.pop3s,
        Security::Starttls,
        "alice",
        dest(),
        Retention::Keep,
    );
    a.server.timeouts.read = Duration::from_secs(1);
    let r = check_of(&a, None).await;
    let g = step(&r, "greeting");
    assert!(
        !g.ok
            && g.fix
                .as_deref()
                .unwrap_or("")
                .contains("security = \"tls\""),
        "{r:#?}"
    );

    // Wrong password: the full address form is rejected, and so is the local part.
    let mut a = account(
        &e,
        s.pop3s,
        Security::Tls,
        "alice@example.test",
        dest(),
        Retention::Keep,
    );
    let r = check_of(&a, Some("wrong")).await;
    let l = step(&r, "login");
    assert!(
        !l.ok
            && l.fix
                .as_deref()
                .unwrap_or("")
                .contains("\"alice\" without the domain was rejected too"),
        "{r:#?}"
    );
    assert_eq!(r.failure(), Some(ErrorClass::Auth));
    // The right password with the full address: the local part works, and check says so.
    let r = check_of(&a, Some("pw")).await;
    assert!(
        step(&r, "login")
            .fix
            .as_deref()
            .unwrap_or("")
            .contains("set user = \"alice\""),
        "{r:#?}"
    );
    a.user = "alice".into();
    assert!(check_of(&a, Some("pw")).await.ok);
}

#[tokio::test]
async fn check_explains_certificate_problems_and_missing_stls() {
    let dest = || Destination::Maildir(PathBuf::from("/nonexistent"));
    // Expired.
    let (s, ca, _d) = server_with_cert(&["localhost"], (-30, -1));
    let e = env(&ca);
    let r = check_of(
        &account(&e, s.pop3s, Security::Tls, "alice", dest(), Retention::Keep),
        None,
    )
    .await;
    let t = step(&r, "TLS");
    assert!(!t.ok && t.detail.contains("expired"), "{r:#?}");
    assert_eq!(r.failure(), Some(ErrorClass::Tls));
    // For another name.
    let (s, ca, _d) = server_with_cert(&["mail.other.test"], (-1, 30));
    let e = env(&ca);
    let r = check_of(
        &account(&e, s.pop3s, Security::Tls, "alice", dest(), Retention::Keep),
        None,
    )
    .await;
    let t = step(&r, "TLS");
    assert!(!t.ok && t.detail.contains("mail.other.test"), "{r:#?}");
    // Self-signed: the fingerprint and how to pin it; pinning works.
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCa::self_signed(dir.path(), &["localhost"]);
    let s = TestServer::builder()
        .user("alice", "pw")
        .config(move |c| {
            c.tls = TlsSource::Files {
                certificate: cert.cert_path,
                key: cert.key_path,
            }
        })
        .start();
    let e = env(&TestCa::new());
    let mut a = account(&e, s.pop3s, Security::Tls, "alice", dest(), Retention::Keep);
    let r = check_of(&a, None).await;
    let t = step(&r, "TLS");
    let fix = t.fix.clone().unwrap_or_default();
    assert!(
        !t.ok && t.detail.contains("self-signed") && fix.contains("fingerprint = \"sha256:"),
        "{r:#?}"
    );
    let fp = fix
        .split('"')
        .nth(1)
        .and_then(Fingerprint::parse)
        .unwrap_or_else(|| panic!("{fix}"));
    a.server.tls = TlsSettings {
        fingerprint: Some(fp),
        no_system_roots: true,
        ..Default::default()
    };
    assert!(check_of(&a, Some("pw")).await.ok);
    // A server without STLS: stop, no silent downgrade.
    let s = TestServer::builder()
        .user("alice", "pw")
        .config(|c| c.listeners[0].starttls = false)
        .start();
    let e = env(&s.ca);
    let r = check_of(
        &account(
            &e,
            s.pop3,
            Security::Starttls,
            "alice",
            dest(),
            Retention::Keep,
        ),
        Some("pw"),
    )
    .await;
    let t = step(&r, "STLS");
    assert!(!t.ok && t.detail.contains("does not offer STLS"), "{r:#?}");
    // Plaintext refused by the server (loopback not trusted), when the user allowed it.
    let s = TestServer::builder()
        .user("alice", "pw")
        .trust_loopback(false)
        .config(|c| c.listeners[0].starttls = false)
        .start();
    let e = env(&s.ca);
    let r = check_of(
        &account(&e, s.pop3, Security::None, "alice", dest(), Retention::Keep),
        Some("pw"),
    )
    .await;
    let l = step(&r, "login");
    assert!(
        !l.ok && l.detail.contains("refuses plaintext logins"),
        "{r:#?}"
    );
}

// ---------------------------------------------------------------- self-signed CA:TRUE

/// A certificate as `openssl req -x509` makes it (CA:TRUE) for `names`, with its key.
fn openssl_self_signed(dir: &Path, stem: &str, names: &[&str]) -> Option<(PathBuf, PathBuf)> {
    let cert = dir.join(format!("{stem}.crt"));
    let key = dir.join(format!("{stem}.key"));
    let san = names
        .iter()
        .map(|n| format!("DNS:{n}"))
        .collect::<Vec<_>>()
        .join(",");
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "30", "-subj", "/CN=selfsigned"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args(["-addext", &format!("subjectAltName={san}")])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let text = std::process::Command::new("openssl")
                .args(["x509", "-noout", "-text", "-in"])
                .arg(&cert)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            assert!(
                text.contains("CA:TRUE"),
                "openssl made no CA:TRUE certificate: {text}"
            );
            Some((cert, key))
        }
        other => {
            buzon_testkit::skip(&format!("openssl is not usable: {other:?}"));
            None
        }
    }
}

#[tokio::test]
async fn a_self_signed_ca_true_certificate_given_as_ca_file_is_accepted_names_still_checked() {
    let ca = TestCa::new();
    let e = env(&ca);
    let Some((cert, key)) = openssl_self_signed(&e.dir, "server", &["localhost"]) else {
        return;
    };
    let m = Mini::start(
        (0..2).map(msg).collect(),
        MiniOpts {
            uidl: true,
            capa: Some(vec!["USER", "UIDL"]),
            tls: Some(server_config_from(&cert, &key)),
            ..Default::default()
        },
    );
    let md = e.dir.join("Maildir");
    let mut a = account(
        &e,
        m.addr,
        Security::Tls,
        "bob",
        Destination::Maildir(md.clone()),
        Retention::Delete,
    );
    a.server.tls.ca_file = Some(cert.clone());
    let r = run(&a, "pw", &opts(&e)).await;
    assert_eq!(r.fetched, 2, "{r:?}");
    let c = check_of(&a, Some("pw")).await;
    assert!(step(&c, "TLS").ok, "{c:#?}");

    // The name is still checked: the certificate is for localhost only.
    a.server.tls.server_name = Some("other.example".into());
    let err = fetch_error(&a, &e).await;
    assert!(
        err.contains("certificate is for localhost, not other.example"),
        "{err}"
    );

    // Another CA:TRUE certificate in ca_file: refused, explained in words.
    let Some((other, _)) = openssl_self_signed(&e.dir, "other", &["localhost"]) else {
        return;
    };
    a.server.tls.server_name = None;
    a.server.tls.ca_file = Some(other);
    let err = fetch_error(&a, &e).await;
    assert!(
        err.contains("presents a certificate authority (CA:TRUE) as its own certificate")
            && err.contains("fingerprint = \"sha256:"),
        "{err}"
    );
    assert!(!err.contains("Other(") && !err.contains("Error {"), "{err}");
}

#[tokio::test]
async fn a_ca_true_certificate_not_given_as_ca_file_is_explained_in_words() {
    // A CA (in ca_file) signs a server certificate that itself says CA:TRUE: webpki
    // refuses it (CaUsedAsEndEntity), and since that certificate is not in ca_file, so
    // does Buzón — in words, with the fix.
    let ca = TestCa::new();
    let e = env(&ca);
    let d = &e.dir;
    let sh = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    std::fs::write(
        d.join("ext"),
        "basicConstraints=critical,CA:TRUE\nsubjectAltName=DNS:localhost\n",
    )
    .unwrap();
    let made = sh(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-days", "30", "-subj", "/CN=ca", "-keyout", "ca.key", "-out", "ca.crt",
        ],
    ]
    .concat())
        && sh(&[
            &["req", "-new"][..],
            &ec,
            &[
                "-subj",
                "/CN=localhost",
                "-keyout",
                "srv.key",
                "-out",
                "srv.csr",
            ],
        ]
        .concat())
        && sh(&[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "ext",
            "-out",
            "srv.crt",
        ]);
    if !made {
        buzon_testkit::skip("openssl is not usable");
        return;
    }
    let m = Mini::start(
        vec![msg(0)],
        MiniOpts {
            uidl: true,
            capa: Some(vec!["USER", "UIDL"]),
            tls: Some(server_config_from(&d.join("srv.crt"), &d.join("srv.key"))),
            ..Default::default()
        },
    );
    let mut a = account(
        &e,
        m.addr,
        Security::Tls,
        "bob",
        Destination::Maildir(d.join("Maildir")),
        Retention::Delete,
    );
    a.server.tls.ca_file = Some(d.join("ca.crt"));
    let err = fetch_error(&a, &e).await;
    assert!(
        err.contains("presents a certificate authority (CA:TRUE) as its own certificate")
            && err.contains("put exactly that certificate in ca_file"),
        "{err}"
    );
    for debug in ["Other(", "Error {", "Kind(", "Os {"] {
        assert!(!err.contains(debug), "{err}");
    }
    // Given as ca_file itself, the same certificate is accepted.
    a.server.tls.ca_file = Some(d.join("srv.crt"));
    assert_eq!(run(&a, "pw", &opts(&e)).await.fetched, 1);
}

// ---------------------------------------------------------------- setup

const DOMAIN: &str = "example.test";

#[tokio::test]
async fn setup_finds_the_server_through_srv_records_and_tests_the_user_name() {
    let (s, ca, _d) = server_with_cert(&["pop.example.test"], (-1, 30));
    let e = env(&ca);
    let dns = TestDns::start(vec![
        (
            "_pop3s._tcp.example.test",
            DnsRecord::Srv {
                priority: 0,
                weight: 1,
                port: s.pop3s.port(),
                target: "pop.example.test".into(),
            },
        ),
        (
            "pop.example.test",
            DnsRecord::A("127.0.0.1".parse().unwrap()),
        ),
    ]);
    let o = DiscoverOptions {
        resolver: Resolver::with_name_server(dns.addr),
        tls: TlsSettings {
            ca_file: Some(e.ca_file.clone()),
            no_system_roots: true,
            ..Default::default()
        },
        password: Some(Secret::new("pw")),
        no_guess: true,
        ..Default::default()
    };
    let d = discover(&format!("alice@{DOMAIN}"), &o, |_| {})
        .await
        .unwrap();
    let p = d
        .chosen()
        .unwrap_or_else(|| panic!("nothing found: {d:#?}"));
    assert_eq!(
        (
            p.candidate.host.as_str(),
            p.candidate.port,
            p.candidate.security
        ),
        ("pop.example.test", s.pop3s.port(), Security::Tls)
    );
    assert_eq!(p.candidate.source, "SRV _pop3s._tcp");
    assert_eq!(
        p.user.as_deref(),
        Some("alice"),
        "the full address fails, the local part logs in: {d:#?}"
    );
    assert!(!p.outside_domain);
}

#[tokio::test]
async fn setup_uses_autoconfig_when_there_are_no_srv_records_and_flags_outside_targets() {
    let (s, ca, _d) = server_with_cert(&["pop.provider.test"], (-1, 30));
    let e = env(&ca);
    let xml = autoconfig_xml("pop.provider.test", s.pop3.port(), "STARTTLS");
    let env = discovery(&e, &ca, &["pop.provider.test"], Some(xml));
    let o = DiscoverOptions {
        password: Some(Secret::new("pw")),
        // The user confirmed this server outside the domain (`--yes pop.provider.test`).
        approved_hosts: vec!["pop.provider.test".into()],
        ..env.options.clone()
    };
    let d = discover(&format!("alice@{DOMAIN}"), &o, |_| {})
        .await
        .unwrap();
    let p = d
        .chosen()
        .unwrap_or_else(|| panic!("nothing found: {d:#?}"));
    assert_eq!(
        (
            p.candidate.host.as_str(),
            p.candidate.security,
            p.candidate.source.as_str()
        ),
        ("pop.provider.test", Security::Starttls, "autoconfig")
    );
    assert_eq!(p.user.as_deref(), Some("alice"));
    assert!(p.outside_domain, "provider.test is outside example.test");
    let reqs = env
        .https
        .requests
        .lock()
        .map(|r| r.clone())
        .unwrap_or_default();
    assert_eq!(
        reqs,
        ["/mail/config-v1.1.xml?emailaddress=alice@example.test"]
    );
}

fn autoconfig_xml(host: &str, port: u16, socket: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="x">
<incomingServer type="pop3"><hostname>{host}</hostname><port>{port}</port><socketType>{socket}</socketType><username>%EMAILLOCALPART%</username></incomingServer>
</emailProvider></clientConfig>"#
    )
}

/// What discovery sees in a test: a DNS server that resolves `hosts` to 127.0.0.1, an
/// HTTPS server (certificate from `ca`) serving `autoconfig` as Thunderbird's
/// `/mail/config-v1.1.xml` when given, and options pointing at both, trusting only `ca`,
/// without guesses. The servers live as long as the value.
struct Discovery {
    _dns: TestDns,
    https: TestHttps,
    options: DiscoverOptions,
}

fn discovery(e: &Env, ca: &TestCa, hosts: &[&str], autoconfig: Option<String>) -> Discovery {
    let dns = TestDns::start(
        hosts
            .iter()
            .map(|h| (*h, DnsRecord::A("127.0.0.1".parse().unwrap())))
            .collect(),
    );
    let pages = autoconfig
        .map(|xml| vec![("/mail/config-v1.1.xml", xml)])
        .unwrap_or_default();
    let https = TestHttps::start(ca, &["127.0.0.1"], pages);
    let options = DiscoverOptions {
        resolver: Resolver::with_name_server(dns.addr),
        autoconfig_base: Some(format!("https://127.0.0.1:{}", https.addr.port())),
        tls: TlsSettings {
            ca_file: Some(e.ca_file.clone()),
            no_system_roots: true,
            ..Default::default()
        },
        no_guess: true,
        ..Default::default()
    };
    Discovery {
        _dns: dns,
        https,
        options,
    }
}

#[tokio::test]
async fn setup_never_logs_in_to_a_server_outside_the_domain_without_confirmation() {
    let ca = TestCa::new();
    let e = env(&ca);
    let m = Mini::start(
        vec![],
        MiniOpts {
            uidl: true,
            capa: Some(vec!["USER", "UIDL"]),
            tls: Some(tls_config(&ca, &e.dir.join("c"), &["pop.provider.test"])),
            ..Default::default()
        },
    );
    let xml = autoconfig_xml("pop.provider.test", m.addr.port(), "SSL");
    let env = discovery(&e, &ca, &["pop.provider.test"], Some(xml));
    let base = DiscoverOptions {
        password: Some(Secret::new("pw")),
        ..env.options.clone()
    };
    let address = format!("alice@{DOMAIN}");

    // Nobody to ask (no terminal, no --yes): probed without login.
    let d = discover(&address, &base, |_| {}).await.unwrap();
    let p = d.chosen().unwrap_or_else(|| panic!("{d:#?}"));
    assert!(
        p.outside_domain && p.needs_confirmation && p.user.is_none(),
        "{d:#?}"
    );
    assert!(p.detail.contains("not logged in"), "{}", p.detail);
    assert!(
        m.commands().iter().any(|c| c == "CAPA"),
        "{:?}",
        m.commands()
    );
    assert_eq!(m.logins(), Vec::<String>::new(), "the server saw a login");

    // Asked, and the user says no: still no login.
    let asked = Arc::new(Mutex::new(Vec::new()));
    let a2 = asked.clone();
    let mut o = base.clone();
    o.confirm = Some(buzon_client::discover::Confirm(Arc::new(
        move |c, domain| {
            if let Ok(mut g) = a2.lock() {
                g.push(format!("{} outside {domain}", c.host));
            }
            false
        },
    )));
    let d = discover(&address, &o, |_| {}).await.unwrap();
    assert!(d.chosen().is_some_and(|p| p.needs_confirmation), "{d:#?}");
    assert_eq!(
        asked.lock().map(|g| g.clone()).unwrap_or_default(),
        ["pop.provider.test outside example.test"]
    );
    assert_eq!(m.logins(), Vec::<String>::new(), "the server saw a login");

    // Named with --yes (any case, trailing dot): the login is tried.
    let mut o = base.clone();
    o.approved_hosts = vec!["POP.Provider.test.".into()];
    let d = discover(&address, &o, |_| {}).await.unwrap();
    let p = d.chosen().unwrap_or_else(|| panic!("{d:#?}"));
    assert!(
        !p.needs_confirmation && p.user.as_deref() == Some("alice"),
        "{d:#?}"
    );
    assert!(!m.logins().is_empty());
}

#[tokio::test]
async fn setup_sends_no_password_derived_login_over_socket_type_plain() {
    // autoconfig says socketType=plain for a server inside the domain offering SCRAM
    // and APOP: setup has no allow_plaintext, so nothing password-derived is sent.
    let ca = TestCa::new();
    let e = env(&ca);
    let m = Mini::start(
        vec![],
        MiniOpts {
            uidl: true,
            capa: Some(vec!["USER", "UIDL", "SASL SCRAM-SHA-256 PLAIN"]),
            greeting: Some("ready <1.2@pop.example.test>"),
            scram_iterations: 4096,
            ..Default::default()
        },
    );
    let xml = autoconfig_xml("pop.example.test", m.addr.port(), "plain");
    let env = discovery(&e, &ca, &["pop.example.test"], Some(xml));
    let o = DiscoverOptions {
        password: Some(Secret::new("pw")),
        ..env.options.clone()
    };
    let d = discover(&format!("alice@{DOMAIN}"), &o, |_| {})
        .await
        .unwrap();
    let p = d.chosen().unwrap_or_else(|| panic!("{d:#?}"));
    assert!(
        p.user.is_none() && p.detail.contains("unencrypted"),
        "{d:#?}"
    );
    assert_eq!(m.logins(), Vec::<String>::new(), "the server saw a login");
}

#[tokio::test]
async fn setup_reports_nothing_found_when_every_source_is_empty() {
    let ca = TestCa::new();
    let e = env(&ca);
    let env = discovery(&e, &ca, &[], None);
    // Guessing too: every source must come up empty.
    let o = DiscoverOptions {
        no_guess: false,
        ..env.options.clone()
    };
    let d = discover(&format!("alice@{DOMAIN}"), &o, |_| {})
        .await
        .unwrap();
    assert!(d.chosen().is_none() && d.probes.is_empty(), "{d:#?}");
    assert!(
        d.notes.iter().any(|n| n.contains("HTTP 404")),
        "{:?}",
        d.notes
    );
}
