//! Mail intake over real loopback TCP (and a UNIX socket): LMTP and SMTP sessions against
//! a running server, real TLS for STARTTLS with a certificate from a test CA, real
//! Maildirs in temporary folders, and POP3 to read back what was delivered.
//!
//! Every read has a timeout (the test client's), every loop a bound.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use buzon_server::config::{Config, Listener, Protocol};
use buzon_smtp_proto::data::encode_data;
use buzon_testkit::smtp::{status, SmtpClient as Smtp};
use buzon_testkit::{LineClient, TestServer};

const MESSAGE: &[u8] = b"From: Sender <sender@remote.example>\r\nTo: alice@example.com\r\nSubject: hello\r\nMessage-ID: <1@remote.example>\r\n\r\nBody line 1\r\n.leading dot\r\n";

/// A server with LMTP and SMTP listeners, users alice, bob, carol (password "pw"), and
/// local domains example.com and localhost. `tweak` changes the config before start.
fn server(tweak: impl FnOnce(&mut Config) + Send + 'static) -> TestServer {
    server_with_users(&[], tweak)
}

/// [`server`] with more users, as users-file lines (extra fields such as quotas), put
/// in the store's users (the file or the users table).
fn server_with_users(
    lines: &[&str],
    tweak: impl FnOnce(&mut Config) + Send + 'static,
) -> TestServer {
    let mut b = TestServer::builder();
    for l in lines {
        b = b.user_line(l);
    }
    b.user("alice", "pw")
        .user("bob", "pw")
        .user("carol", "pw")
        .config(move |c| {
            let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
            c.listeners.push(Listener::new(any, Protocol::Lmtp));
            c.listeners.push(Listener::new(any, Protocol::Smtp));
            c.smtp.hostname = c.hostname.clone();
            c.delivery.routing.local_domains = vec!["example.com".into(), "localhost".into()];
            tweak(c);
        })
        .start()
}

/// The messages of a user's INBOX (or a folder), contents sorted, in either store.
fn stored(s: &TestServer, user: &str, folder: Option<&str>) -> Vec<Vec<u8>> {
    s.stored(user, folder)
}

/// Files left in a Maildir's `tmp/`; PostgreSQL has no such place (a delivery that
/// did not commit is a rolled-back transaction, and `stored` shows nothing of it).
fn tmp_files(s: &TestServer, user: &str) -> usize {
    if s.is_postgres() {
        return 0;
    }
    std::fs::read_dir(s.mailbox_path(user).join("tmp"))
        .map(|r| r.count())
        .unwrap_or(0)
}

/// The message as stored: CRLF became LF.
fn lf(m: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(m)
        .replace("\r\n", "\n")
        .into_bytes()
}

fn append_user_line(users_file: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(users_file)
        .unwrap();
    writeln!(f, "{line}").unwrap();
}

fn pop3_login(addr: SocketAddr, user: &str) -> LineClient {
    let mut c = LineClient::connect(addr);
    assert!(c.line().starts_with("+OK"));
    c.login(user, "pw");
    c
}

fn pop3_count(c: &mut LineClient) -> usize {
    let stat = c.cmd("STAT");
    assert!(stat.starts_with("+OK"), "{stat}");
    stat.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

#[test]
fn lmtp_multiple_recipients_get_one_reply_each() {
    let s = server(|_| {});
    let mut c = Smtp::connect(s.addr(Protocol::Lmtp));
    let ehlo = c.expect("LHLO mta.example.com", 250);
    for ext in [
        "PIPELINING",
        "ENHANCEDSTATUSCODES",
        "8BITMIME",
        "SMTPUTF8",
        "SIZE 52428800",
    ] {
        assert!(
            ehlo.lines.iter().any(|l| l == ext),
            "{ext} missing: {ehlo:?}"
        );
    }
    c.expect("MAIL FROM:<sender@remote.example> SIZE=200", 250);
    c.expect("RCPT TO:<alice@example.com>", 250);
    let r = c.expect("RCPT TO:<nobody@example.com>", 550);
    assert_eq!(status(&r), "5.1.1");
    let r = c.expect("RCPT TO:<alice@elsewhere.example>", 550);
    assert_eq!(status(&r), "5.7.1");
    c.expect("RCPT TO:<Bob@EXAMPLE.com>", 250);
    let replies = c.data(MESSAGE, 2);
    assert!(
        replies
            .iter()
            .all(|r| r.code == 250 && status(r) == "2.0.0"),
        "{replies:?}"
    );
    assert!(
        replies[0].lines[0].contains("<alice@example.com>")
            && replies[1].lines[0].contains("<Bob@EXAMPLE.com>"),
        "{replies:?}"
    );
    c.expect("QUIT", 221);

    for (user, rcpt) in [("alice", "alice@example.com"), ("bob", "Bob@EXAMPLE.com")] {
        let files = stored(&s, user, None);
        assert_eq!(files.len(), 1, "{user}");
        let text = String::from_utf8_lossy(&files[0]).into_owned();
        let want_head = format!("Return-Path: <sender@remote.example>\nDelivered-To: {rcpt}\nReceived: from mta.example.com ([127.0.0.1])\n\tby test.buzon.invalid (Buzon) with LMTP id ");
        assert!(text.starts_with(&want_head), "{text}");
        assert!(text.contains(&format!("\n\tfor <{rcpt}>; ")), "{text}");
        assert!(files[0].ends_with(&lf(MESSAGE)), "{text}");
    }
    assert!(stored(&s, "carol", None).is_empty());
}

#[test]
fn smtp_pipelined_delivery_is_downloaded_byte_for_byte_over_pop3() {
    let s = server(|_| {});
    let mut c = Smtp::connect(s.addr(Protocol::Smtp));
    let ehlo = c.expect("EHLO client.example", 250);
    assert!(ehlo.lines.iter().any(|l| l == "STARTTLS"), "{ehlo:?}");
    // RFC 2920: the whole envelope and DATA in one write; replies in order.
    c.line.send_raw(b"MAIL FROM:<sender@remote.example>\r\nRCPT TO:<alice+news@example.com>\r\nRCPT TO:<ghost@example.com>\r\nRCPT TO:<carol@localhost>\r\nDATA\r\n").unwrap();
    let codes: Vec<u16> = (0..5).map(|_| c.reply().code).collect();
    assert_eq!(codes, [250, 250, 550, 250, 354]);
    // End of data and QUIT pipelined together.
    let mut tail = encode_data(MESSAGE);
    tail.extend_from_slice(b"QUIT\r\n");
    c.line.send_raw(&tail).unwrap();
    let done = c.reply();
    assert_eq!(
        (done.code, status(&done).as_str()),
        (250, "2.0.0"),
        "{done:?}"
    );
    assert_eq!(c.reply().code, 221);

    let mut p = pop3_login(s.pop3, "alice");
    assert_eq!(pop3_count(&mut p), 1);
    assert!(p.cmd("RETR 1").starts_with("+OK"));
    let body = p.body();
    let text = String::from_utf8_lossy(&body).into_owned();
    assert!(text.starts_with("Return-Path: <sender@remote.example>\r\nDelivered-To: alice+news@example.com\r\nReceived: from client.example ([127.0.0.1])\r\n\tby test.buzon.invalid (Buzon) with ESMTP id "), "{text}");
    assert!(
        body.ends_with(MESSAGE),
        "POP3 must return the sent bytes after the trace headers: {text}"
    );
    let list = p.cmd("LIST 1");
    let size: usize = list
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert_eq!(size, body.len(), "LIST size matches what RETR sends");
    p.cmd("QUIT");
    assert_eq!(stored(&s, "carol", None).len(), 1);
}

#[test]
fn oversize_messages_are_refused_and_nothing_is_stored() {
    let s = server(|c| c.delivery.max_message_size = 64 * 1024);
    let mut c = Smtp::connect(s.addr(Protocol::Smtp));
    c.expect("EHLO client.example", 250);
    let r = c.expect("MAIL FROM:<a@remote.example> SIZE=70000", 552);
    assert_eq!(status(&r), "5.3.4");
    c.expect("MAIL FROM:<a@remote.example>", 250);
    c.expect("RCPT TO:<alice@example.com>", 250);
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    for _ in 0..1200 {
        big.extend_from_slice(&[b'x'; 70]);
        big.extend_from_slice(b"\r\n");
    }
    let r = c.data(&big, 1);
    assert_eq!((r[0].code, status(&r[0]).as_str()), (552, "5.3.4"), "{r:?}");
    // The session goes on, and a small message still gets through.
    c.expect("MAIL FROM:<a@remote.example>", 250);
    c.expect("RCPT TO:<alice@example.com>", 250);
    assert_eq!(c.data(MESSAGE, 1)[0].code, 250);
    assert_eq!(stored(&s, "alice", None).len(), 1);
    assert_eq!(tmp_files(&s, "alice"), 0);
    // An over-long command line: 500 5.5.2, and the session goes on.
    let r = c.cmd(&format!("NOOP {}", "x".repeat(1000)));
    assert_eq!((r.code, status(&r).as_str()), (500, "5.5.2"));
    c.expect("NOOP", 250);
}

#[test]
fn routing_aliases_subaddress_catch_all_and_postmaster() {
    let dir = tempfile::tempdir().unwrap();
    let aliases = dir.path().join("aliases");
    std::fs::write(
        &aliases,
        "# who gets what\npostmaster: alice\nteam: alice, bob@example.com\n",
    )
    .unwrap();
    let s = server(move |c| {
        c.delivery.aliases_file = Some(aliases);
        c.delivery
            .routing
            .catch_all
            .insert("localhost".into(), "carol".into());
    });
    let mut c = Smtp::connect(s.addr(Protocol::Lmtp));
    c.expect("LHLO mta", 250);
    c.expect("MAIL FROM:<>", 250);
    for rcpt in [
        "<Postmaster>",
        "<TEAM@example.com>",
        "<alice+x+y@example.com>",
        "<whoever@localhost>",
    ] {
        c.expect(&format!("RCPT TO:{rcpt}"), 250);
    }
    let r = c.expect("RCPT TO:<whoever@example.com>", 550);
    assert_eq!(status(&r), "5.1.1", "no catch-all for example.com");
    let replies = c.data(b"Subject: routed\r\n\r\nx\r\n", 4);
    assert!(replies.iter().all(|r| r.code == 250), "{replies:?}");
    // alice: postmaster, team, alice+x+y; bob: team; carol: the catch-all.
    assert_eq!(stored(&s, "alice", None).len(), 3);
    assert_eq!(stored(&s, "bob", None).len(), 1);
    assert_eq!(stored(&s, "carol", None).len(), 1);
    let postmaster = String::from_utf8_lossy(&stored(&s, "alice", None).concat()).into_owned();
    assert!(
        postmaster.contains("Return-Path: <>\n")
            && postmaster.contains("Delivered-To: Postmaster\n"),
        "{postmaster}"
    );
}

#[test]
fn starttls_with_real_tls_discards_injected_commands() {
    let s = server(|_| {});
    let mut c = Smtp::connect(s.addr(Protocol::Smtp));
    c.expect("EHLO client.example", 250);
    // A command pipelined after STARTTLS must never run after the handshake (RFC 3207 §4.2).
    c.line.send_raw(b"STARTTLS\r\n").unwrap();
    let r = c.reply();
    assert_eq!((r.code, status(&r).as_str()), (220, "2.0.0"));
    c.line.start_tls(s.ca.client_config(), "localhost");
    let ehlo = c.expect("EHLO client.example", 250);
    assert!(!ehlo.lines.iter().any(|l| l == "STARTTLS"), "{ehlo:?}");
    let r = c.expect("STARTTLS", 503);
    assert_eq!(status(&r), "5.5.1");
    c.expect("MAIL FROM:<sender@remote.example>", 250);
    c.expect("RCPT TO:<alice@example.com>", 250);
    assert_eq!(c.data(MESSAGE, 1)[0].code, 250);
    c.expect("QUIT", 221);
    let text = String::from_utf8_lossy(&stored(&s, "alice", None).concat()).into_owned();
    assert!(text.contains("with ESMTPS id"), "{text}");

    // The injection attempt: plaintext bytes after STARTTLS in the same packet.
    let mut c = Smtp::connect(s.addr(Protocol::Smtp));
    c.expect("EHLO client.example", 250);
    c.line
        .send_raw(b"STARTTLS\r\nMAIL FROM:<evil@remote.example>\r\n")
        .unwrap();
    assert_eq!(c.reply().code, 220);
    c.line.start_tls(s.ca.client_config(), "localhost");
    // Had the injected MAIL run, this RCPT would be accepted; the state is fresh.
    let r = c.expect("RCPT TO:<alice@example.com>", 503);
    assert_eq!(status(&r), "5.5.1");
}

#[test]
fn quota_exceeded_fails_only_that_recipient() {
    let s = server_with_users(
        &[
            "dave:{PLAIN}pw::::::userdb_quota_rule=*:messages=1",
            "erin:{PLAIN}pw::::::userdb_quota_rule=*:bytes=300",
        ],
        |_| {},
    );
    let send = |rcpts: &[&str], want_rcpt: &[u16], want_data: &[u16]| {
        let mut c = Smtp::connect(s.addr(Protocol::Lmtp));
        c.expect("LHLO mta", 250);
        c.expect("MAIL FROM:<sender@remote.example>", 250);
        for (r, want) in rcpts.iter().zip(want_rcpt) {
            c.expect(&format!("RCPT TO:<{r}>"), *want);
        }
        let accepted = want_rcpt.iter().filter(|&&w| w == 250).count();
        let got: Vec<(u16, String)> = c
            .data(MESSAGE, accepted)
            .iter()
            .map(|r| (r.code, status(r)))
            .collect();
        let codes: Vec<u16> = got.iter().map(|g| g.0).collect();
        assert_eq!(codes, want_data, "{got:?}");
        got
    };
    // dave holds one message at most: the second is refused at RCPT, alice unaffected.
    send(
        &["dave@example.com", "alice@example.com"],
        &[250, 250],
        &[250, 250],
    );
    let mut c = Smtp::connect(s.addr(Protocol::Lmtp));
    c.expect("LHLO mta", 250);
    c.expect("MAIL FROM:<sender@remote.example>", 250);
    let r = c.expect("RCPT TO:<dave@example.com>", 452);
    assert_eq!(status(&r), "4.2.2");
    drop(c);
    // erin's 300 bytes are enough for nothing of this size: refused after DATA (LMTP: that
    // recipient only).
    let got = send(
        &["erin@example.com", "alice@example.com"],
        &[250, 250],
        &[452, 250],
    );
    assert_eq!(got[0].1, "4.2.2");
    assert_eq!(stored(&s, "dave", None).len(), 1);
    assert_eq!(stored(&s, "erin", None).len(), 0);
    assert_eq!(stored(&s, "alice", None).len(), 2);
    assert_eq!(tmp_files(&s, "alice"), 0);

    // SMTP answers once for the whole message: a temporary failure for one mailbox means
    // no mailbox gets it (the sender retries; nobody sees a duplicate).
    let mut c = Smtp::connect(s.addr(Protocol::Smtp));
    c.expect("EHLO client.example", 250);
    c.expect("MAIL FROM:<sender@remote.example>", 250);
    c.expect("RCPT TO:<alice@example.com>", 250);
    c.expect("RCPT TO:<erin@example.com>", 250);
    let r = c.data(MESSAGE, 1);
    assert_eq!((r[0].code, status(&r[0]).as_str()), (452, "4.2.2"), "{r:?}");
    assert_eq!(
        stored(&s, "alice", None).len(),
        2,
        "nothing delivered to alice either"
    );
    assert_eq!(tmp_files(&s, "alice"), 0);
}

#[test]
fn over_quota_reply_can_be_permanent() {
    let s = server(|c| {
        c.delivery.over_quota_permanent = true;
        c.delivery.quota = buzon_intake::quota::QuotaLimits {
            bytes: Some(100),
            messages: None,
        };
    });
    let mut c = Smtp::connect(s.addr(Protocol::Lmtp));
    c.expect("LHLO mta", 250);
    c.expect("MAIL FROM:<sender@remote.example> SIZE=5000", 250);
    let r = c.expect("RCPT TO:<alice@example.com>", 552);
    assert_eq!(status(&r), "5.2.2");
}

fn write_script(s: &TestServer, user: &str, script: &str) {
    let dir = &s.config.delivery.sieve_dir;
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(format!("{user}.sieve")), script).unwrap();
}

#[test]
fn sieve_fileinto_subaddress_reject_and_broken_script() {
    let s = server(|c| c.pop3.serve_folders = vec!["Junk".into()]);
    write_script(
        &s,
        "alice",
        "require [\"fileinto\", \"envelope\", \"subaddress\"];\n\
         if header :contains \"subject\" \"hello\" { fileinto \"Junk\"; stop; }\n\
         if envelope :detail \"to\" \"lists\" { fileinto \"INBOX.Lists\"; }\n",
    );
    write_script(
        &s,
        "bob",
        "require \"reject\";\nreject \"I do not accept mail from strangers\";\n",
    );
    write_script(
        &s,
        "carol",
        "require \"fileinto\";\nif header :bogus \"x\" { fileinto \"Nowhere\"; }\n",
    );

    let mut c = Smtp::connect(s.addr(Protocol::Lmtp));
    c.expect("LHLO mta", 250);
    c.expect("MAIL FROM:<sender@remote.example>", 250);
    for r in ["alice@example.com", "bob@example.com", "carol@example.com"] {
        c.expect(&format!("RCPT TO:<{r}>"), 250);
    }
    let replies = c.data(MESSAGE, 3);
    assert_eq!(replies[0].code, 250);
    assert_eq!(
        (replies[1].code, status(&replies[1]).as_str()),
        (550, "5.7.1"),
        "{replies:?}"
    );
    assert!(
        replies[1].lines[0].contains("I do not accept mail from strangers"),
        "{replies:?}"
    );
    assert_eq!(replies[2].code, 250, "a broken script delivers to INBOX");
    assert_eq!(stored(&s, "alice", Some("Junk")).len(), 1);
    assert_eq!(stored(&s, "alice", None).len(), 0);
    assert_eq!(stored(&s, "bob", None).len(), 0);
    assert_eq!(stored(&s, "carol", None).len(), 1);

    // Sub-addressing: envelope :detail, into a folder created on demand.
    c.expect("MAIL FROM:<list@remote.example>", 250);
    c.expect("RCPT TO:<alice+lists@example.com>", 250);
    assert_eq!(c.data(b"Subject: digest\r\n\r\nnews\r\n", 1)[0].code, 250);
    assert_eq!(stored(&s, "alice", Some("Lists")).len(), 1);
    c.expect("QUIT", 221);

    // SMTP, one recipient: the reject is the answer to the message.
    let mut c = Smtp::connect(s.addr(Protocol::Smtp));
    c.expect("EHLO client.example", 250);
    c.expect("MAIL FROM:<sender@remote.example>", 250);
    c.expect("RCPT TO:<bob@example.com>", 250);
    let r = c.data(MESSAGE, 1);
    assert_eq!((r[0].code, status(&r[0]).as_str()), (550, "5.7.1"));
    // SMTP with another recipient accepting: bob's reject cannot be told to the sender
    // (no bounces are sent), so bob keeps the message in INBOX.
    c.expect("MAIL FROM:<sender@remote.example>", 250);
    c.expect("RCPT TO:<bob@example.com>", 250);
    c.expect("RCPT TO:<carol@example.com>", 250);
    assert_eq!(c.data(MESSAGE, 1)[0].code, 250);
    assert_eq!(stored(&s, "bob", None).len(), 1);

    // POP3 serves INBOX merged with Junk (the configured folder); Lists is not served.
    let mut p = pop3_login(s.pop3, "alice");
    assert_eq!(pop3_count(&mut p), 1, "INBOX is empty, Junk has one");
    assert!(p.cmd("RETR 1").starts_with("+OK"));
    assert!(p.body().ends_with(MESSAGE));
    p.cmd("QUIT");
}

#[test]
fn merged_folders_have_unique_uidls() {
    let s = server(|c| c.pop3.serve_folders = vec!["Junk".into()]);
    write_script(
        &s,
        "alice",
        "require \"fileinto\";\nif header :is \"subject\" \"junk\" { fileinto \"Junk\"; }\n",
    );
    let mut c = Smtp::connect(s.addr(Protocol::Lmtp));
    c.expect("LHLO mta", 250);
    for subject in ["junk", "ham", "junk", "ham"] {
        c.expect("MAIL FROM:<sender@remote.example>", 250);
        c.expect("RCPT TO:<alice@example.com>", 250);
        assert_eq!(
            c.data(format!("Subject: {subject}\r\n\r\nx\r\n").as_bytes(), 1)[0].code,
            250
        );
    }
    assert_eq!(stored(&s, "alice", Some("Junk")).len(), 2);
    let mut p = pop3_login(s.pop3, "alice");
    assert_eq!(pop3_count(&mut p), 4);
    assert!(p.cmd("UIDL").starts_with("+OK"));
    let uidls: Vec<Vec<u8>> = p.body_lines();
    let mut unique = uidls
        .iter()
        .map(|l| l.split(|&b| b == b' ').nth(1).unwrap_or_default().to_vec())
        .collect::<Vec<_>>();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4, "{uidls:?}");
    p.cmd("QUIT");
    // The same UIDLs at the next login.
    let mut p = pop3_login(s.pop3, "alice");
    assert!(p.cmd("UIDL").starts_with("+OK"));
    assert_eq!(p.body_lines(), uidls);
}

#[test]
fn delivery_during_an_open_pop3_session_shows_at_next_login() {
    let s = server(|_| {});
    s.deliver("alice", b"Subject: old\n\nold\n");
    let mut p = pop3_login(s.pop3, "alice");
    assert_eq!(pop3_count(&mut p), 1);
    let mut c = Smtp::connect(s.addr(Protocol::Lmtp));
    c.expect("LHLO mta", 250);
    c.expect("MAIL FROM:<sender@remote.example>", 250);
    c.expect("RCPT TO:<alice@example.com>", 250);
    assert_eq!(
        c.data(MESSAGE, 1)[0].code,
        250,
        "delivery takes no POP3 lock"
    );
    assert_eq!(
        pop3_count(&mut p),
        1,
        "the open session's view is unchanged"
    );
    assert!(p.cmd("LIST").starts_with("+OK"));
    assert_eq!(p.body_lines().len(), 1);
    assert!(p.cmd("QUIT").starts_with("+OK"));
    let mut p = pop3_login(s.pop3, "alice");
    assert_eq!(pop3_count(&mut p), 2, "new mail appears at the next login");
}

#[test]
fn lmtp_over_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run/lmtp.sock");
    let p2 = path.clone();
    let s = server(move |c| {
        c.unix_listeners.push(buzon_server::config::UnixListener {
            path: p2,
            protocol: Protocol::Lmtp,
            mode: 0o660,
        });
    });
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    let mut sock = std::os::unix::net::UnixStream::connect(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut data = encode_data(MESSAGE);
    let script = b"LHLO local\r\nMAIL FROM:<sender@remote.example>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n".to_vec();
    sock.write_all(&script).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..100 {
        let n = sock.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
        if got.ends_with(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n") {
            break;
        }
    }
    data.extend_from_slice(b"QUIT\r\n");
    sock.write_all(&data).unwrap();
    got.clear();
    for _ in 0..100 {
        let n = sock.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("250 2.0.0 <alice@example.com> delivered")
            && text.ends_with("221 2.0.0 test.buzon.invalid closing connection\r\n"),
        "{text}"
    );
    let stored_text = String::from_utf8_lossy(&stored(&s, "alice", None).concat()).into_owned();
    assert!(
        stored_text.contains("Received: from local\n\tby test.buzon.invalid (Buzon) with LMTP"),
        "{stored_text}"
    );
}

#[test]
fn limits_connections_per_ip_and_command_timeout() {
    let s = server(|c| {
        c.smtp.max_connections_per_ip = 1;
        c.smtp.command_timeout = Duration::from_secs(1);
    });
    let mut first = Smtp::connect(s.addr(Protocol::Smtp));
    let mut second = LineClient::connect(s.addr(Protocol::Smtp));
    let refused = second.line();
    assert!(refused.starts_with("421 4.7.0"), "{refused}");
    // The first session times out after a silent second: 421 4.4.2, then the close.
    let r = first.reply();
    assert_eq!((r.code, status(&r).as_str()), (421, "4.4.2"), "{r:?}");
    assert!(first.line.is_closed());
}

#[test]
fn write_error_is_a_temporary_failure_and_leaves_nothing() {
    if buzon_testkit::maildir_only(
        "write_error_is_a_temporary_failure_and_leaves_nothing",
        "makes a Maildir's tmp/ a dangling symbolic link",
    ) {
        return;
    }
    let s = server(|_| {});
    // alice's tmp/ is a dangling symbolic link: the message cannot be written.
    let root = s.mailbox_path("alice");
    std::fs::create_dir_all(root.join("new")).unwrap();
    std::fs::create_dir_all(root.join("cur")).unwrap();
    std::os::unix::fs::symlink(root.join("missing"), root.join("tmp")).unwrap();
    let mut c = Smtp::connect(s.addr(Protocol::Lmtp));
    c.expect("LHLO mta", 250);
    c.expect("MAIL FROM:<sender@remote.example>", 250);
    c.expect("RCPT TO:<alice@example.com>", 250);
    c.expect("RCPT TO:<bob@example.com>", 250);
    let r = c.data(MESSAGE, 2);
    assert_eq!((r[0].code, status(&r[0]).as_str()), (451, "4.3.0"), "{r:?}");
    assert_eq!(r[1].code, 250, "other recipients are unaffected: {r:?}");
    assert!(stored(&s, "alice", None).is_empty());
}

/// Sends `bytes` one at a time, 200 ms apart, until the server answers with a line (or 10
/// s pass); gives the time from `start` and that line.
fn trickle_until_reply(
    c: &mut LineClient,
    bytes: &[u8],
    start: std::time::Instant,
) -> Option<(Duration, String)> {
    c.set_read_timeout(Duration::from_millis(50));
    for i in 0..50 {
        let _ = c.send_raw(&bytes[i % bytes.len()..][..1]);
        match c.try_read_line() {
            Ok(Some(l)) => return Some((start.elapsed(), String::from_utf8_lossy(&l).into())),
            Ok(None) => return Some((start.elapsed(), "closed without a reply".into())),
            Err(_) => {}
        }
        // Scenario: one byte every 200 ms (the trickle is the attack).
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

#[test]
fn command_and_data_deadlines_cut_off_trickling_clients() {
    let s = server(|c| {
        c.smtp.command_timeout = Duration::from_secs(1);
        // Long enough that a per-read timer would never fire while bytes trickle in.
        c.smtp.data_timeout = Duration::from_secs(60);
        c.smtp.data_deadline = Duration::from_secs(2);
    });
    // One byte every 200 ms inside an endless command line (past the 1000-octet limit
    // the rest of the line is discarded, so only a deadline can end it).
    let mut line = Smtp::connect(s.addr(Protocol::Smtp));
    let start = std::time::Instant::now();
    let end = trickle_until_reply(&mut line.line, b"NOOP xxxxxxxxxxxxxxxxxxxx", start);
    let Some((at, reply)) = end else {
        panic!("an endless command line trickled for 10 s was not cut off (command_timeout 1 s)");
    };
    println!("endless command line: cut off after {at:?}: {reply}");
    assert!(reply.starts_with("421 4.4.2"), "{reply}");
    assert!(at < Duration::from_secs(6), "cut off only after {at:?}");
    line.line.set_read_timeout(Duration::from_secs(5));
    assert!(line.line.is_closed());

    // A message body trickled one byte every 200 ms, over SMTP and LMTP.
    for proto in [Protocol::Smtp, Protocol::Lmtp] {
        let mut c = Smtp::connect(s.addr(proto));
        let hello = if proto == Protocol::Lmtp {
            "LHLO mta"
        } else {
            "EHLO mta"
        };
        c.expect(hello, 250);
        c.expect("MAIL FROM:<sender@remote.example>", 250);
        c.expect("RCPT TO:<alice@example.com>", 250);
        c.expect("DATA", 354);
        let start = std::time::Instant::now();
        let Some((at, reply)) =
            trickle_until_reply(&mut c.line, b"Subject: slow\r\n\r\nbody ", start)
        else {
            panic!(
                "{proto:?}: a message body trickled for 10 s was not cut off (data_deadline 2 s)"
            );
        };
        println!("{proto:?} body trickle: cut off after {at:?}: {reply}");
        assert!(reply.starts_with("421 4.4.2"), "{proto:?}: {reply}");
        assert!(
            at < Duration::from_secs(7),
            "{proto:?}: cut off only after {at:?}"
        );
        c.line.set_read_timeout(Duration::from_secs(5));
        assert!(c.line.is_closed());
    }
    assert!(stored(&s, "alice", None).is_empty());

    // The command deadline is per command: a client that keeps sending whole commands
    // for longer than it is not cut off, and a normal delivery still works.
    let mut c = Smtp::connect(s.addr(Protocol::Smtp));
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(2500) {
        c.expect("NOOP", 250);
        // Scenario: whole commands at a slow pace.
        std::thread::sleep(Duration::from_millis(200));
    }
    c.expect("EHLO mta", 250);
    c.expect("MAIL FROM:<sender@remote.example>", 250);
    c.expect("RCPT TO:<alice@example.com>", 250);
    assert_eq!(c.data(MESSAGE, 1)[0].code, 250);
    assert_eq!(stored(&s, "alice", None).len(), 1);
}

/// Sends `lines` in one write and reads one reply per line; gives the codes.
fn pipelined(c: &mut Smtp, lines: &[String]) -> Vec<(u16, String)> {
    let mut batch = String::new();
    for l in lines {
        batch.push_str(l);
        batch.push_str("\r\n");
    }
    c.line.send_raw(batch.as_bytes()).unwrap();
    lines
        .iter()
        .map(|_| {
            let r = c.reply();
            (r.code, status(&r))
        })
        .collect()
}

#[test]
fn quota_usage_is_not_rescanned_per_rcpt_and_follows_expunges_and_other_programs() {
    if buzon_testkit::maildir_only(
        "quota_usage_is_not_rescanned_per_rcpt_and_follows_expunges_and_other_programs",
        "counts scans of Maildir folders and changes files behind the server's back",
    ) {
        return;
    }
    let s = server(|c| {
        append_user_line(
            &c.auth.users_file,
            "dave:{PLAIN}pw::::::userdb_quota_rule=*:messages=2",
        );
    });
    s.deliver("dave", b"Subject: one\n\nx\n");
    let root = s.mailbox_path("dave");
    // Two folders as well: each quota check covers INBOX and every folder.
    for f in ["Lists", "Junk"] {
        buzon_store::Maildir::open(&root)
            .and_then(|md| md.create_folder(f))
            .unwrap();
    }
    let before = buzon_store::usage_scans(&root);

    // An RCPT flood: 100 recipients for dave in one transaction, then again after RSET.
    let mut c = Smtp::connect(s.addr(Protocol::Smtp));
    c.expect("EHLO flood.example", 250);
    let mut lines = vec!["MAIL FROM:<sender@remote.example>".to_string()];
    lines.extend((0..100).map(|_| "RCPT TO:<dave@example.com>".to_string()));
    lines.push("RSET".into());
    let replies = pipelined(&mut c, &lines);
    assert!(replies.iter().all(|r| r.0 == 250), "{replies:?}");
    let scans = buzon_store::usage_scans(&root) - before;
    println!("100 RCPTs for one user with a quota: {scans} scans of the mailbox");
    assert!(
        scans <= 3,
        "the mailbox was scanned {scans} times for 100 RCPTs"
    );

    // A second message fills dave's quota of 2: refused at once.
    c.expect("MAIL FROM:<sender@remote.example>", 250);
    c.expect("RCPT TO:<dave@example.com>", 250);
    assert_eq!(c.data(MESSAGE, 1)[0].code, 250);
    c.expect("MAIL FROM:<sender@remote.example>", 250);
    let r = c.expect("RCPT TO:<dave@example.com>", 452);
    assert_eq!(status(&r), "4.2.2");
    c.expect("RSET", 250);

    // POP3 deletes one: the next RCPT sees it at once (the server dropped its figure).
    let mut p = pop3_login(s.pop3, "dave");
    assert!(p.cmd("DELE 1").starts_with("+OK"));
    assert!(p.cmd("QUIT").starts_with("+OK"));
    c.expect("MAIL FROM:<sender@remote.example>", 250);
    c.expect("RCPT TO:<dave@example.com>", 250);
    c.expect("RSET", 250);

    // Another program adds a message behind the server's back: seen within moments
    // (directory times, or at most the cache's short life for a just-changed mailbox).
    std::fs::write(
        root.join("new/1700000000.M1P1.other.host"),
        b"Subject: x\n\ny\n",
    )
    .unwrap();
    buzon_testkit::wait_until(
        Duration::from_secs(10),
        "a message another program added to be counted (RCPT answered 452)",
        || {
            c.expect("MAIL FROM:<sender@remote.example>", 250);
            let last = c.cmd("RCPT TO:<dave@example.com>").code;
            c.expect("RSET", 250);
            last == 452
        },
    );
    c.expect("QUIT", 221);
}

#[test]
fn refused_recipients_are_capped_per_session() {
    let s = server(|c| c.smtp.max_errors = 5);
    let mut c = Smtp::connect(s.addr(Protocol::Smtp));
    c.expect("EHLO flood.example", 250);
    // 100 unknown recipients over two transactions: each is looked up and refused.
    let mut lines = vec!["MAIL FROM:<sender@remote.example>".to_string()];
    lines.extend((0..60).map(|i| format!("RCPT TO:<nobody{i}@example.com>")));
    lines.push("RSET".into());
    lines.push("MAIL FROM:<sender@remote.example>".into());
    lines.extend((60..100).map(|i| format!("RCPT TO:<nobody{i}@example.com>")));
    let replies = pipelined(&mut c, &lines);
    assert_eq!(
        replies.iter().filter(|r| r.0 == 550).count(),
        100,
        "{replies:?}"
    );
    // From now on every RCPT, even a valid one, is refused unchecked with 452 4.5.3 and
    // counts as an error: after max_errors (5), 421 and the connection is closed.
    for i in 0..5 {
        let r = c.cmd("RCPT TO:<alice@example.com>");
        assert_eq!(
            (r.code, status(&r).as_str()),
            (452, "4.5.3"),
            "RCPT {i}: {r:?}"
        );
    }
    let r = c.reply();
    assert_eq!((r.code, status(&r).as_str()), (421, "4.7.0"), "{r:?}");
    assert!(c.line.is_closed());
    assert!(stored(&s, "alice", None).is_empty());
}

#[test]
fn a_return_path_in_the_message_is_replaced_by_the_envelope_sender() {
    let s = server(|_| {});
    let mut c = Smtp::connect(s.addr(Protocol::Smtp));
    c.expect("EHLO client.example", 250);
    c.expect("MAIL FROM:<sender@remote.example>", 250);
    c.expect("RCPT TO:<alice@example.com>", 250);
    let r = c.data(
        b"Return-Path: <ceo@bank.example>\r\nDelivered-To: alice@example.com\r\nSubject: pay\r\n\r\nx\r\n",
        1,
    );
    assert_eq!(r[0].code, 250);
    let got = stored(&s, "alice", None);
    let text = String::from_utf8_lossy(&got[0]);
    assert!(
        text.starts_with("Return-Path: <sender@remote.example>\nDelivered-To: alice@example.com\nReceived: from client.example"),
        "{text}"
    );
    assert!(!text.contains("ceo@bank.example"), "{text}");
    assert_eq!(text.matches("Delivered-To:").count(), 1, "{text}");
    assert!(text.ends_with("\nSubject: pay\n\nx\n"), "{text}");
}
