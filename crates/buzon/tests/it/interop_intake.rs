//! Interop of mail intake with real mail programs against the real `buzon serve`:
//! swaks (Debian package `swaks`) as an SMTP and LMTP client, and Postfix (Debian package
//! `postfix`) relaying a message it received over SMTP into Buzón over LMTP, which is then
//! downloaded over POP3 byte for byte.
//!
//! With BUZON_INTEROP=1 (as in CI) a missing program — or, for Postfix, not running as
//! root, which `postfix start` needs — is a failure; otherwise these tests print a note
//! and pass without running.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use buzon_testkit::process::{write_config, BuzonProcess};
use buzon_testkit::smtp::SmtpClient;
use buzon_testkit::{LineClient, TestCa};

use crate::interop_clients::have;
use crate::BIN;
use buzon_testkit::run_bounded;

fn interop_required() -> bool {
    std::env::var("BUZON_INTEROP").as_deref() == Ok("1")
}

struct Env {
    dir: tempfile::TempDir,
    proc: BuzonProcess,
    data: PathBuf,
    ca_file: PathBuf,
}

fn start(extra: &str) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let listeners = "\n[[listen]]\naddress = \"127.0.0.1:0\"\nprotocol = \"lmtp\"\n\n[[listen]]\naddress = \"127.0.0.1:0\"\nprotocol = \"smtp\"\n";
    let config = write_config(
        dir.path(),
        &ca,
        &format!("{listeners}\n[delivery]\nlocal_domains = [\"example.com\"]\n{extra}"),
    );
    let ca_file = dir.path().join("ca.pem");
    ca.write_pem(&ca_file);
    let data = dir.path().join("data");
    let stored = buzon_auth::hash_password(b"pw", &buzon_auth::HashParams::fast_for_tests());
    for u in ["alice", "bob"] {
        buzon_auth::add_user(&data.join("users"), u, &stored).unwrap();
    }
    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    Env {
        dir,
        proc,
        data,
        ca_file,
    }
}

fn stored(data: &Path, user: &str) -> Vec<Vec<u8>> {
    buzon_testkit::maildir::messages(&data.join("mail").join(user))
}

fn swaks(addr: SocketAddr, args: &[&str]) -> (i32, String) {
    let port = addr.port().to_string();
    let mut cmd = Command::new("swaks");
    cmd.args([
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--from",
        "sender@remote.example",
        "--timeout",
        "20s",
        "--helo",
        "swaks.test",
    ])
    .args(args);
    let out = run_bounded(&mut cmd, Duration::from_secs(60));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn swaks_smtp_and_lmtp_single_multiple_and_pipelined() {
    if !have("swaks") {
        return;
    }
    let e = start("");
    let (code, out) = swaks(
        e.proc.addr("SMTP"),
        &["--to", "alice@example.com", "--header", "Subject: one"],
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = swaks(
        e.proc.addr("SMTP"),
        &[
            "--to",
            "alice@example.com,bob@example.com",
            "--pipeline",
            "--header",
            "Subject: two",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("PIPELINING"), "{out}");
    let (code, out) = swaks(
        e.proc.addr("LMTP"),
        &[
            "--protocol",
            "LMTP",
            "--to",
            "alice@example.com,bob@example.com",
            "--pipeline",
            "--header",
            "Subject: three",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("<alice@example.com> delivered")
            && out.contains("<bob@example.com> delivered"),
        "one LMTP reply per recipient: {out}"
    );
    assert_eq!(stored(&e.data, "alice").len(), 3);
    assert_eq!(stored(&e.data, "bob").len(), 2);
    let all = String::from_utf8_lossy(&stored(&e.data, "bob").concat()).into_owned();
    assert!(
        all.contains("with ESMTP id")
            && all.contains("with LMTP id")
            && all.contains("X-Mailer: swaks"),
        "{all}"
    );
}

#[test]
fn swaks_starttls_with_certificate_verification() {
    if !have("swaks") {
        return;
    }
    let e = start("");
    let ca = e.ca_file.to_string_lossy().into_owned();
    let (code, out) = swaks(
        e.proc.addr("SMTP"),
        &[
            "--to",
            "alice@example.com",
            "--tls",
            "--tls-verify",
            "--tls-ca-path",
            &ca,
            "--header",
            "Subject: tls",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("STARTTLS") && out.contains("220 2.0.0 Ready to start TLS"),
        "{out}"
    );
    let text = String::from_utf8_lossy(&stored(&e.data, "alice").concat()).into_owned();
    assert!(text.contains("with ESMTPS id"), "{text}");
}

#[test]
fn swaks_refusals_oversize_unknown_user_and_relay() {
    if !have("swaks") {
        return;
    }
    let e = start("max_message_size = \"64K\"\n");
    let body = e.dir.path().join("big-body.txt");
    std::fs::write(
        &body,
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n".repeat(1500),
    )
    .unwrap();
    let body_arg = format!("@{}", body.display());
    let (code, out) = swaks(
        e.proc.addr("SMTP"),
        &["--to", "alice@example.com", "--body", &body_arg],
    );
    assert_eq!(code, 26, "server did not accept mail following data: {out}");
    assert!(out.contains("552 5.3.4"), "{out}");
    let (code, out) = swaks(e.proc.addr("SMTP"), &["--to", "nobody@example.com"]);
    assert_eq!(code, 24, "no RCPTs accepted: {out}");
    assert!(out.contains("550 5.1.1"), "{out}");
    let (code, out) = swaks(e.proc.addr("SMTP"), &["--to", "someone@elsewhere.example"]);
    assert_eq!(code, 24, "{out}");
    assert!(out.contains("550 5.7.1"), "relaying is refused: {out}");
    let (code, out) = swaks(
        e.proc.addr("LMTP"),
        &["--protocol", "LMTP", "--to", "nobody@example.com"],
    );
    assert_eq!(code, 24, "{out}");
    assert!(stored(&e.data, "alice").is_empty());
}

/// A private Postfix instance (its own config, queue and data directories), stopped on
/// drop.
struct Postfix {
    conf: PathBuf,
    queue: PathBuf,
    log: PathBuf,
}

impl Postfix {
    fn start(root: &Path, smtp_port: u16, lmtp: SocketAddr) -> Postfix {
        let conf = root.join("conf");
        let queue = root.join("queue");
        let pfdata = root.join("data");
        for d in [&conf, &queue, &pfdata] {
            std::fs::create_dir_all(d).unwrap();
        }
        // Postfix's daemons run as the `postfix` account: it must reach its directories.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let chown = run_bounded(
            Command::new("chown").arg("postfix").arg(&pfdata),
            Duration::from_secs(10),
        );
        assert!(
            chown.status.success(),
            "chown postfix: {}",
            String::from_utf8_lossy(&chown.stderr)
        );
        let log = root.join("maillog");
        let main_cf = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {queue}\n\
             data_directory = {data}\n\
             meta_directory = /etc/postfix\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             inet_interfaces = loopback-only\n\
             inet_protocols = ipv4\n\
             myhostname = postfix.test\n\
             mydomain = postfix.test\n\
             myorigin = postfix.test\n\
             mydestination =\n\
             local_transport = error:local delivery is disabled\n\
             alias_maps =\n\
             alias_database =\n\
             mynetworks = 127.0.0.0/8\n\
             relay_domains = example.com\n\
             transport_maps = inline:{{ example.com=lmtp:inet:{lmtp} }}\n\
             smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n\
             smtputf8_enable = no\n\
             biff = no\n\
             maillog_file = {log}\n\
             maillog_file_prefixes = {root}\n",
            queue = queue.display(),
            data = pfdata.display(),
            log = log.display(),
            root = root.display(),
        );
        std::fs::write(conf.join("main.cf"), main_cf).unwrap();
        // Only the services this test needs, none chrooted (the queue is private).
        let master_cf = format!(
            "127.0.0.1:{smtp_port} inet n - n - - smtpd\n\
             pickup unix n - n 60 1 pickup\n\
             cleanup unix n - n - 0 cleanup\n\
             qmgr unix n - n 300 1 qmgr\n\
             rewrite unix - - n - - trivial-rewrite\n\
             bounce unix - - n - 0 bounce\n\
             defer unix - - n - 0 bounce\n\
             trace unix - - n - 0 bounce\n\
             verify unix - - n - 1 verify\n\
             flush unix n - n 1000? 0 flush\n\
             proxymap unix - - n - - proxymap\n\
             proxywrite unix - - n - 1 proxymap\n\
             smtp unix - - n - - smtp\n\
             relay unix - - n - - smtp\n\
             showq unix n - n - - showq\n\
             error unix - - n - - error\n\
             retry unix - - n - - error\n\
             discard unix - - n - - discard\n\
             lmtp unix - - n - - lmtp\n\
             anvil unix - - n - 1 anvil\n\
             scache unix - - n - 1 scache\n\
             postlog unix-dgram n - n - 1 postlogd\n"
        );
        std::fs::write(conf.join("master.cf"), master_cf).unwrap();
        let pf = Postfix { conf, queue, log };
        let out = run_bounded(
            Command::new("postfix").arg("-c").arg(&pf.conf).arg("start"),
            Duration::from_secs(60),
        );
        assert!(
            out.status.success(),
            "postfix start failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            pf.log_text()
        );
        pf
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn master_pid(&self) -> Option<String> {
        std::fs::read_to_string(self.queue.join("pid/master.pid"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let pid = self.master_pid();
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // Bounded wait for the master process (and with it every daemon) to go.
        if let Some(pid) = pid {
            let gone = buzon_testkit::poll(Duration::from_secs(15), || {
                let alive = Command::new("kill")
                    .args(["-0", &pid])
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                (!alive).then_some(())
            });
            if gone.is_some() {
                return;
            }
            let _ = Command::new("postfix")
                .arg("-c")
                .arg(&self.conf)
                .arg("abort")
                .status();
        }
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().map(|a| a.port()).unwrap()
}

#[test]
fn postfix_relays_into_buzon_over_lmtp_and_pop3_returns_the_message_byte_for_byte() {
    if !have("postfix") {
        return;
    }
    if !rustix::process::geteuid().is_root() {
        if interop_required() {
            panic!("the Postfix interop test starts `postfix`, which needs root (BUZON_INTEROP=1)");
        }
        buzon_testkit::skip(
            "not root: the Postfix interop test starts `postfix`, which needs root",
        );
        return;
    }
    let e = start("");
    let pf_root = e.dir.path().join("postfix");
    let port = free_port();
    let pf = Postfix::start(&pf_root, port, e.proc.addr("LMTP"));

    // Wait (bounded) for Postfix's smtpd to listen.
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    if buzon_testkit::poll(Duration::from_secs(30), || {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()
    })
    .is_none()
    {
        panic!("postfix smtpd did not listen: {}", pf.log_text());
    }

    let message = b"From: Sender <sender@remote.example>\r\nTo: Alice <alice@example.com>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= via Postfix\r\nDate: Tue, 05 Mar 2024 09:04:05 +0000\r\nMessage-ID: <postfix-interop-1@remote.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHello Alice,\r\n.this line starts with a dot\r\n\r\nand the body is 8-bit: \xc2\xa1Buz\xc3\xb3n!\r\n";
    let mut transcript = String::new();
    let mut c = SmtpClient::connect(addr);
    for (line, want) in [
        ("EHLO client.test", 250),
        ("MAIL FROM:<sender@remote.example> BODY=8BITMIME", 250),
        ("RCPT TO:<alice@example.com>", 250),
    ] {
        let r = c.expect(line, want);
        transcript.push_str(&format!(
            "C: {line}\nS: {} {}\n",
            r.code,
            r.lines.last().cloned().unwrap_or_default()
        ));
    }
    let r = c.data(message, 1);
    assert_eq!(r[0].code, 250, "{r:?}");
    transcript.push_str(&format!(
        "C: DATA … .\nS: {} {}\n",
        r[0].code,
        r[0].lines.join(" ")
    ));
    c.expect("QUIT", 221);

    // Postfix hands it to Buzón over LMTP; wait (bounded) for it to arrive.
    if buzon_testkit::poll(Duration::from_secs(60), || {
        (!stored(&e.data, "alice").is_empty()).then_some(())
    })
    .is_none()
    {
        panic!(
            "the message did not arrive through Postfix:\n{}",
            pf.log_text()
        );
    }
    // The message is in the Maildir before Buzón's 250 reaches Postfix, and Postfix logs
    // the delivery after that reply: wait (bounded) for the log line too.
    let sent = |log: &str| {
        log.contains("relay=127.0.0.1[127.0.0.1]")
            && log.contains("status=sent (250 2.0.0 <alice@example.com> delivered")
    };
    let pf_log = buzon_testkit::poll(Duration::from_secs(30), || {
        Some(pf.log_text()).filter(|log| sent(log))
    })
    .unwrap_or_else(|| panic!("Postfix logged no delivery to Buzón:\n{}", pf.log_text()));

    let mut pop = LineClient::connect(e.proc.addr("POP3"));
    assert!(pop.line().starts_with("+OK"));
    pop.login("alice", "pw");
    let stat = pop.cmd("STAT");
    assert!(stat.starts_with("+OK 1 "), "{stat}");
    let retr = pop.cmd("RETR 1");
    assert!(retr.starts_with("+OK"), "{retr}");
    let body = pop.body();
    assert!(pop.cmd("QUIT").starts_with("+OK"));
    let text = String::from_utf8_lossy(&body).into_owned();
    assert!(
        body.ends_with(message),
        "POP3 must return the sent message byte for byte after the trace headers:\n{text}"
    );
    let trace = &text[..text.len() - message.len()];
    assert!(trace.starts_with("Return-Path: <sender@remote.example>\r\nDelivered-To: alice@example.com\r\nReceived: from postfix.test ([127.0.0.1])\r\n\tby test.buzon.invalid (Buzon) with LMTP id "), "{trace}");
    assert!(trace.contains("\r\nReceived: from client.test (localhost [127.0.0.1])\r\n\tby postfix.test (Postfix) with ESMTP id "), "{trace}");
    eprintln!("--- SMTP to Postfix ---\n{transcript}--- Postfix log (LMTP to Buzón) ---\n{}--- POP3 RETR 1 from Buzón ---\n{text}", pf_log.lines().filter(|l| l.contains("lmtp") || l.contains("qmgr")).collect::<Vec<_>>().join("\n"));
}
