//! Loopback integration tests: real TCP, real rustls with a generated certificate, real
//! Maildir on disk. One test binary for the crate (cheap to link).

use std::time::Duration;

use buzon_pop3_proto::wire::{encode_message, Extent, WireSize};
use buzon_testkit::{LineClient, TestServer};

const MSG1: &[u8] = b"From: a@example.com\nSubject: one\n\nHello\n.dot line\n..two dots\n";

fn server() -> TestServer {
    TestServer::builder()
        .user("alice", "wonder land")
        .user("bob", "builder")
        .start()
}

fn tls_client(s: &TestServer) -> LineClient {
    let mut c = LineClient::connect_tls(s.pop3s, s.ca.client_config(), "localhost");
    let g = c.line();
    assert!(g.starts_with("+OK"), "greeting: {g}");
    c
}

fn plain_client(s: &TestServer) -> LineClient {
    let mut c = LineClient::connect(s.pop3);
    let g = c.line();
    assert!(g.starts_with("+OK"), "greeting: {g}");
    c
}

fn capa(c: &mut LineClient) -> Vec<String> {
    let r = c.cmd("CAPA");
    assert!(r.starts_with("+OK"), "{r}");
    c.body_lines()
        .into_iter()
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .collect()
}

#[test]
fn pop3s_session_stat_list_uidl_retr_top_dele_quit() {
    let s = server();
    let d1 = s.deliver("alice", MSG1);
    let d2 = s.deliver("alice", b"Subject: two\n\nbody\n");
    let mut c = tls_client(&s);
    c.login("alice", "wonder land");
    let size1 = WireSize::of(MSG1);
    let size2 = WireSize::of(b"Subject: two\n\nbody\n");
    assert_eq!(c.cmd("STAT"), format!("+OK 2 {}", size1 + size2));
    assert!(c.cmd("LIST").starts_with("+OK 2 messages"));
    let list = c.body_lines();
    assert_eq!(
        list,
        vec![
            format!("1 {size1}").into_bytes(),
            format!("2 {size2}").into_bytes()
        ]
    );
    assert_eq!(c.cmd("LIST 2"), format!("+OK 2 {size2}"));
    assert!(c.cmd("UIDL").starts_with("+OK"));
    let uidls = c.body_lines();
    assert_eq!(
        uidls,
        vec![
            format!("1 {}", d1.uidl).into_bytes(),
            format!("2 {}", d2.uidl).into_bytes()
        ]
    );
    assert_eq!(c.cmd("RETR 1"), format!("+OK {size1} octets"));
    let raw = c.raw_body();
    assert_eq!(
        raw,
        encode_message(MSG1, Extent::Whole),
        "RETR must be byte-exact"
    );
    assert!(c.cmd("TOP 1 0").starts_with("+OK"));
    assert_eq!(
        c.raw_body(),
        b"From: a@example.com\r\nSubject: one\r\n\r\n.\r\n"
    );
    assert!(c.cmd("TOP 1 2").starts_with("+OK"));
    assert_eq!(
        c.raw_body(),
        b"From: a@example.com\r\nSubject: one\r\n\r\nHello\r\n..dot line\r\n.\r\n"
    );
    assert!(c.cmd("DELE 1").starts_with("+OK"));
    assert!(c.cmd("DELE 1").starts_with("-ERR"));
    assert!(c.cmd("RETR 1").starts_with("-ERR"));
    assert!(c.cmd("TOP 1 0").starts_with("-ERR"));
    assert!(c.cmd("LIST 1").starts_with("-ERR"));
    assert_eq!(c.cmd("STAT"), format!("+OK 1 {size2}"));
    assert!(c.cmd("UIDL").starts_with("+OK"));
    assert_eq!(c.body_lines(), vec![format!("2 {}", d2.uidl).into_bytes()]);
    assert!(c.cmd("RSET").starts_with("+OK"));
    assert_eq!(c.cmd("STAT"), format!("+OK 2 {}", size1 + size2));
    assert!(c.cmd("DELE 2").starts_with("+OK"));
    assert!(c.cmd("QUIT").starts_with("+OK"));
    assert!(c.is_closed());
    let left = s.stored("alice", None);
    assert_eq!(left, vec![MSG1.to_vec()], "exactly message 2 is gone");
}

#[test]
fn capa_is_truthful_before_and_after_login_and_per_connection() {
    let s = TestServer::builder()
        .user("alice", "pw")
        .trust_loopback(false)
        .start();
    // Plain port, untrusted: no USER, no SASL, but STLS.
    let mut c = plain_client(&s);
    let caps = capa(&mut c);
    assert!(caps.contains(&"STLS".to_string()), "{caps:?}");
    assert!(
        !caps.iter().any(|l| l == "USER" || l.starts_with("SASL")),
        "{caps:?}"
    );
    for want in [
        "TOP",
        "UIDL",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "UTF8",
        "CAPA",
    ] {
        assert!(caps.iter().any(|l| l == want), "{want} missing: {caps:?}");
    }
    assert!(!caps.iter().any(|l| l.starts_with("IMPLEMENTATION")
        || l.starts_with("EXPIRE")
        || l.starts_with("LOGIN-DELAY")));
    let r = c.cmd("USER alice");
    assert!(r.starts_with("-ERR [AUTH]") && r.contains("TLS"), "{r}");
    let r = c.cmd("AUTH PLAIN AGFsaWNlAHB3");
    assert!(r.starts_with("-ERR [AUTH]"), "{r}");
    // After STLS: USER and SASL, no STLS.
    assert!(c.cmd("STLS").starts_with("+OK"));
    c.start_tls(s.ca.client_config(), "localhost");
    let caps = capa(&mut c);
    assert!(!caps.contains(&"STLS".to_string()), "{caps:?}");
    assert!(
        caps.contains(&"USER".to_string()) && caps.contains(&"SASL PLAIN LOGIN".to_string()),
        "{caps:?}"
    );
    c.login("alice", "pw");
    let after = capa(&mut c);
    assert!(!after.contains(&"STLS".to_string()));
    assert!(after.contains(&"TOP".to_string()) && after.contains(&"UIDL".to_string()));
    assert!(c.cmd("QUIT").starts_with("+OK"));
}

#[test]
fn stls_discards_commands_pipelined_before_the_handshake() {
    let s = server();
    let mut c = plain_client(&s);
    c.send_raw(b"STLS\r\nUSER alice\r\nPASS wonder land\r\n")
        .unwrap();
    assert!(c.line().starts_with("+OK"));
    c.start_tls(s.ca.client_config(), "localhost");
    // If the injected USER/PASS had been executed inside TLS, their replies would be
    // waiting now, and STAT would work without a login.
    let r = c.cmd("STAT");
    assert!(
        r.starts_with("-ERR"),
        "injected commands must not run after STLS: {r}"
    );
    assert!(c.cmd("STLS").starts_with("-ERR"), "STLS twice");
}

#[test]
fn auth_plain_initial_response_continuation_cancel_and_login() {
    let s = server();
    let mut c = tls_client(&s);
    // Bare AUTH lists mechanisms (Outlook).
    assert!(c.cmd("AUTH").starts_with("+OK"));
    assert_eq!(c.body_lines(), vec![b"PLAIN".to_vec(), b"LOGIN".to_vec()]);
    // Cancel with "*".
    assert_eq!(c.cmd("AUTH PLAIN"), "+ ");
    assert!(c.cmd("*").starts_with("-ERR"));
    // Wrong password: [AUTH].
    let bad = buzon_pop3_proto::sasl::encode_base64(b"\0alice\0nope");
    assert!(c
        .cmd(&format!("AUTH PLAIN {bad}"))
        .starts_with("-ERR [AUTH]"));
    // Continuation form.
    assert_eq!(c.cmd("AUTH PLAIN"), "+ ");
    let good = buzon_pop3_proto::sasl::encode_base64(b"\0alice\0wonder land");
    assert!(c.cmd(&good).starts_with("+OK"));
    assert!(c.cmd("STAT").starts_with("+OK 0 0"));
    assert!(c.cmd("QUIT").starts_with("+OK"));

    let mut c = tls_client(&s);
    let ir = buzon_pop3_proto::sasl::encode_base64(b"\0bob\0builder");
    assert!(c.cmd(&format!("AUTH PLAIN {ir}")).starts_with("+OK"));
    assert!(c.cmd("QUIT").starts_with("+OK"));

    let mut c = tls_client(&s);
    assert_eq!(c.cmd("AUTH LOGIN"), "+ VXNlcm5hbWU6");
    assert_eq!(
        c.cmd(&buzon_pop3_proto::sasl::encode_base64(b"bob")),
        "+ UGFzc3dvcmQ6"
    );
    assert!(c
        .cmd(&buzon_pop3_proto::sasl::encode_base64(b"builder"))
        .starts_with("+OK"));
    assert!(c.cmd("QUIT").starts_with("+OK"));
}

#[test]
fn apop_is_offered_only_when_a_user_can_use_it() {
    let s = server();
    let mut c = plain_client_greeting(&s);
    assert!(
        !c.1.contains('<'),
        "no timestamp without plaintext users: {}",
        c.1
    );
    drop(c.0.cmd("QUIT"));

    s.add_user("carol", "{PLAIN}tanstaaf");
    // The greeting reads the users file as last loaded; a background task looks at the
    // file once a second, so the timestamp appears within about a second.
    let (mut c, greeting) = buzon_testkit::wait_for(
        Duration::from_secs(10),
        "a greeting with an APOP timestamp",
        || {
            let (c, g) = plain_client_greeting(&s);
            g.contains('<').then_some((c, g))
        },
    );
    let ts = buzon_pop3_proto::sasl::greeting_timestamp(&greeting)
        .unwrap_or_else(|| panic!("no timestamp: {greeting}"))
        .to_string();
    let digest = buzon_pop3_proto::sasl::apop_digest(&ts, b"tanstaaf");
    assert!(c
        .cmd(&format!("APOP carol {}", "0".repeat(32)))
        .starts_with("-ERR [AUTH]"));
    assert!(c.cmd(&format!("APOP carol {digest}")).starts_with("+OK"));
    assert!(c.cmd("QUIT").starts_with("+OK"));
    // A second greeting carries a different timestamp.
    let (_, g2) = plain_client_greeting(&s);
    assert_ne!(
        buzon_pop3_proto::sasl::greeting_timestamp(&g2),
        Some(ts.as_str())
    );
}

/// A server with a `{PLAIN}` user (so APOP is possible), untrusted loopback, a second
/// POP3 listener without STLS, and `auth.apop` as given.
fn apop_server(apop_without_tls: bool) -> (TestServer, std::net::SocketAddr) {
    let s = TestServer::builder()
        .trust_loopback(false)
        .config(move |c| {
            c.auth.apop = apop_without_tls;
            let mut no_stls = buzon_server::config::Listener::new(
                "127.0.0.1:0".parse().unwrap(),
                buzon_server::Protocol::Pop3,
            );
            no_stls.starttls = false;
            c.listeners.push(no_stls);
        })
        .start();
    s.add_user("carol", "{PLAIN}tanstaaf");
    // The users file is reloaded by a background check once a second: wait until the
    // port with STLS offers the timestamp, which it does once carol is known.
    buzon_testkit::wait_until(
        Duration::from_secs(10),
        "the new {PLAIN} user to make APOP possible",
        || {
            let mut c = LineClient::connect(s.pop3);
            let offered = c.line().contains('<');
            drop(c.cmd("QUIT"));
            offered
        },
    );
    let no_stls = s
        .addrs
        .iter()
        .filter(|(p, _)| *p == buzon_server::Protocol::Pop3)
        .map(|(_, a)| *a)
        .nth(1)
        .unwrap_or_else(|| panic!("no second POP3 listener: {:?}", s.addrs));
    (s, no_stls)
}

/// The APOP command for carol, computed from a greeting's timestamp.
fn apop_carol(greeting: &str) -> String {
    let ts = buzon_pop3_proto::sasl::greeting_timestamp(greeting)
        .unwrap_or_else(|| panic!("no timestamp: {greeting}"));
    format!(
        "APOP carol {}",
        buzon_pop3_proto::sasl::apop_digest(ts, b"tanstaaf")
    )
}

#[test]
fn apop_is_offered_only_where_a_plaintext_login_would_be_accepted_unless_opted_in() {
    let (s, no_stls) = apop_server(false);
    // Port 110 with STLS, untrusted network: the greeting carries the timestamp (APOP
    // can be used once STLS is done), but a digest sent in the clear is refused before
    // it is checked, so a listener never sees a challenge with its answer.
    let mut c = LineClient::connect(s.pop3);
    let g = c.line();
    let apop = apop_carol(&g);
    let r = c.cmd(&apop);
    assert!(
        r.starts_with("-ERR [AUTH]") && r.contains("TLS"),
        "APOP accepted without TLS: {r}"
    );
    assert!(c.cmd("STLS").starts_with("+OK"));
    c.start_tls(s.ca.client_config(), "localhost");
    let r = c.cmd(&apop);
    assert!(r.starts_with("+OK"), "APOP after STLS: {r}");
    assert!(c.cmd("QUIT").starts_with("+OK"));
    // POP3S.
    let mut c = LineClient::connect_tls(s.pop3s, s.ca.client_config(), "localhost");
    let g = c.line();
    assert!(c.cmd(&apop_carol(&g)).starts_with("+OK"));
    assert!(c.cmd("QUIT").starts_with("+OK"));
    // A plain port without STLS: no timestamp at all, and APOP is refused.
    let mut c = LineClient::connect(no_stls);
    let g = c.line();
    assert!(
        buzon_pop3_proto::sasl::greeting_timestamp(&g).is_none(),
        "timestamp offered where APOP can never be accepted: {g}"
    );
    let r = c.cmd(&format!("APOP carol {}", "0".repeat(32)));
    assert!(r.starts_with("-ERR"), "{r}");

    // `auth.apop = true`: the administrator accepts APOP's weakness everywhere.
    let (s, no_stls) = apop_server(true);
    for addr in [s.pop3, no_stls] {
        let mut c = LineClient::connect(addr);
        let g = c.line();
        let r = c.cmd(&apop_carol(&g));
        assert!(r.starts_with("+OK"), "{addr}: {r}");
        assert!(c.cmd("QUIT").starts_with("+OK"));
    }
}

fn plain_client_greeting(s: &TestServer) -> (LineClient, String) {
    let mut c = LineClient::connect(s.pop3);
    let g = c.line();
    (c, g)
}

#[test]
fn byte_exact_retrieval_of_awkward_messages() {
    let s = server();
    let mut big = Vec::with_capacity(20 * 1024 * 1024 + 100);
    big.extend_from_slice(b"Subject: big\n\n");
    let mut i = 0u64;
    while big.len() < 20 * 1024 * 1024 {
        if i.is_multiple_of(7) {
            big.extend_from_slice(b".starts with a dot\n");
        } else {
            big.extend_from_slice(
                format!("line {i} of a large message, with some text to fill it up\n").as_bytes(),
            );
        }
        i += 1;
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dots", b"Subject: d\r\n\r\n.\r\n..\r\n.x\r\n".to_vec()),
        ("bare-lf", b"Subject: lf\n\nline\n\nend\n".to_vec()),
        ("no-final-newline", b"Subject: nf\n\nlast line".to_vec()),
        (
            "eight-bit",
            "Subject: ñandú\n\nCuerpo en UTF-8: ¡Buzón! \u{1F4EC}\n\u{00ff}\u{00fe}\n"
                .as_bytes()
                .to_vec(),
        ),
        ("empty-body", b"Subject: e\n\n".to_vec()),
        ("headers-only", b"Subject: h".to_vec()),
        ("big", big),
    ];
    for (_, m) in &cases {
        s.deliver("alice", m);
    }
    let mut c = tls_client(&s);
    c.login("alice", "wonder land");
    for (n, (name, m)) in cases.iter().enumerate() {
        let size = WireSize::of(m);
        assert_eq!(
            c.cmd(&format!("LIST {}", n + 1)),
            format!("+OK {} {size}", n + 1),
            "{name}"
        );
        assert_eq!(
            c.cmd(&format!("RETR {}", n + 1)),
            format!("+OK {size} octets"),
            "{name}"
        );
        let raw = c.raw_body();
        assert_eq!(raw.len(), encode_message(m, Extent::Whole).len(), "{name}");
        assert!(
            raw == encode_message(m, Extent::Whole),
            "{name}: RETR bytes differ"
        );
        // Unstuffed, the body is exactly `size` octets.
        let mut unstuffed = 0u64;
        for line in raw[..raw.len() - 3].split_inclusive(|&b| b == b'\n') {
            unstuffed += buzon_pop3_proto::wire::unstuff_line(line).len() as u64;
        }
        assert_eq!(
            unstuffed, size,
            "{name}: LIST size must equal the octets sent"
        );
        assert!(c.cmd(&format!("TOP {} 1", n + 1)).starts_with("+OK"));
        assert_eq!(
            c.raw_body(),
            encode_message(m, Extent::Top(1)),
            "{name}: TOP"
        );
    }
    assert!(c.cmd("QUIT").starts_with("+OK"));
}

/// Drops a file's pages from the page cache (it is synced first, so they are clean).
fn evict_from_page_cache(path: &std::path::Path) {
    let f = std::fs::File::open(path).unwrap();
    f.sync_all().unwrap();
    rustix::fs::fadvise(&f, 0, 0, rustix::fs::Advice::DontNeed).unwrap();
}

#[test]
fn retrieval_is_exact_from_memory_from_disk_and_after_a_rename() {
    if buzon_testkit::maildir_only(
        "retrieval_is_exact_from_memory_from_disk_and_after_a_rename",
        "evicts message files from the page cache and renames them under the session",
    ) {
        return;
    }
    let s = server();
    // Several read chunks, with dot lines at every position relative to chunk ends.
    let mut big = b"Subject: from disk\n\n".to_vec();
    let mut i = 0u64;
    while big.len() < 700_000 {
        big.extend_from_slice(if i.is_multiple_of(3) {
            b".dot\n"
        } else {
            b"a line of text\n"
        });
        i += 1;
    }
    let small = b"Subject: small\n\nbody\n.\n".to_vec();
    let moved = b"Subject: moved\n\nflags changed by another program\n".to_vec();
    let gone = b"Subject: gone\n\nremoved by another program\n".to_vec();
    let messages = [&big, &small, &moved, &gone];
    for m in messages {
        s.deliver("alice", m);
    }
    let mut c = tls_client(&s);
    c.login("alice", "wonder land");
    let file_of = |content: &[u8]| {
        s.message_files("alice")
            .into_iter()
            .find(|p| std::fs::read(p).unwrap() == content)
            .unwrap()
    };
    let retr_exact = |c: &mut LineClient, n: usize, m: &[u8], why: &str| {
        assert!(c.cmd(&format!("RETR {n}")).starts_with("+OK"), "{why}");
        assert!(
            c.raw_body() == encode_message(m, Extent::Whole),
            "{why}: RETR bytes differ"
        );
        assert!(c.cmd(&format!("TOP {n} 2")).starts_with("+OK"), "{why}");
        assert_eq!(
            c.raw_body(),
            encode_message(m, Extent::Top(2)),
            "{why}: TOP"
        );
    };
    // In the page cache (just written): read on the event loop.
    for (n, m) in messages.iter().enumerate() {
        retr_exact(&mut c, n + 1, m, "cached");
    }
    // Out of the page cache: the reads go to the disk on a blocking thread.
    for (n, m) in messages.iter().enumerate() {
        evict_from_page_cache(&file_of(m));
        retr_exact(&mut c, n + 1, m, "evicted");
    }
    // Another program changes message 3's flags (a rename) during the session.
    let p = file_of(&moved);
    let name = p.file_name().unwrap().to_str().unwrap().to_string();
    let renamed = if name.contains(":2,") {
        format!("{name}S")
    } else {
        format!("{name}:2,S")
    };
    std::fs::rename(&p, p.with_file_name(renamed)).unwrap();
    retr_exact(&mut c, 3, &moved, "renamed");
    // A message another program removed gets -ERR, and the session goes on.
    std::fs::remove_file(file_of(&gone)).unwrap();
    assert!(c.cmd("RETR 4").starts_with("-ERR"));
    assert!(c.cmd("TOP 4 0").starts_with("-ERR"));
    retr_exact(&mut c, 2, &small, "after an -ERR");
    assert!(c.cmd("QUIT").starts_with("+OK"));
}

#[test]
fn dropped_connection_and_shutdown_delete_nothing() {
    let mut s = server();
    for i in 0..3 {
        s.deliver("alice", format!("Subject: {i}\n\nx\n").as_bytes());
    }
    {
        let mut c = tls_client(&s);
        c.login("alice", "wonder land");
        assert!(c.cmd("DELE 1").starts_with("+OK"));
        assert!(c.cmd("DELE 2").starts_with("+OK"));
        // Dropped without QUIT.
    }
    s.wait_mailbox_free("alice");
    assert_eq!(s.message_count("alice"), 3);

    let mut c = tls_client(&s);
    c.login("alice", "wonder land");
    assert!(c.cmd("DELE 3").starts_with("+OK"));
    s.stop();
    let last = c.line();
    assert!(
        last.starts_with("-ERR [SYS/TEMP]"),
        "shutdown notice: {last}"
    );
    assert!(c.is_closed());
    assert_eq!(s.message_count("alice"), 3);
}

#[test]
fn quit_in_authorization_deletes_nothing_and_update_deletes_exactly_the_marked() {
    let s = server();
    for i in 0..5 {
        s.deliver("alice", format!("Subject: {i}\n\nx\n").as_bytes());
    }
    let mut c = plain_client(&s);
    assert!(c.cmd("QUIT").starts_with("+OK"));
    let mut c = plain_client(&s);
    c.login("alice", "wonder land");
    assert!(c.cmd("UIDL").starts_with("+OK"));
    let uidls = c.body_lines();
    for n in [2, 4] {
        assert!(c.cmd(&format!("DELE {n}")).starts_with("+OK"));
    }
    assert_eq!(c.cmd("QUIT"), "+OK Logging out, 2 messages deleted.");
    let mut c = plain_client(&s);
    c.login("alice", "wonder land");
    assert!(c.cmd("UIDL").starts_with("+OK"));
    let after: Vec<Vec<u8>> = c
        .body_lines()
        .into_iter()
        .map(|l| l.split(|&b| b == b' ').nth(1).unwrap_or_default().to_vec())
        .collect();
    let before: Vec<Vec<u8>> = uidls
        .iter()
        .map(|l| l.split(|&b| b == b' ').nth(1).unwrap_or_default().to_vec())
        .collect();
    assert_eq!(
        after,
        vec![before[0].clone(), before[2].clone(), before[4].clone()],
        "UIDLs stable, right ones gone"
    );
    assert!(c.cmd("QUIT").starts_with("+OK"));
}

#[test]
fn second_session_gets_in_use_and_the_lock_frees_at_quit() {
    let s = server();
    s.deliver("alice", b"Subject: x\n\ny\n");
    let mut a = plain_client(&s);
    a.login("alice", "wonder land");
    let mut b = plain_client(&s);
    assert!(b.cmd("USER alice").starts_with("+OK"));
    let r = b.cmd("PASS wonder land");
    assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
    assert!(a.cmd("QUIT").starts_with("+OK"));
    b.login("alice", "wonder land");
    assert!(b.cmd("STAT").starts_with("+OK 1 "));
}

#[test]
fn a_silent_session_loses_its_lock_after_the_lease() {
    let s = TestServer::builder()
        .user("alice", "pw")
        .config(|c| c.limits.lock_lease = Duration::from_millis(300))
        .start();
    s.deliver("alice", b"Subject: x\n\ny\n");
    let mut a = plain_client(&s);
    a.login("alice", "pw");
    assert!(a.cmd("DELE 1").starts_with("+OK"));
    // Scenario: the lease (300 ms) must expire while `a` is still connected.
    std::thread::sleep(Duration::from_millis(500));
    let mut b = plain_client(&s);
    b.login("alice", "pw");
    assert!(
        b.cmd("STAT").starts_with("+OK 1 "),
        "the takeover must not apply a's DELE"
    );
    let last = a.line();
    assert!(last.starts_with("-ERR [IN-USE]"), "{last}");
    assert!(a.is_closed());
    assert!(b.cmd("QUIT").starts_with("+OK"));
    assert_eq!(s.message_count("alice"), 1);
}

#[test]
fn wrong_state_commands_and_bad_input_get_err_and_the_session_goes_on() {
    let s = server();
    let mut c = plain_client(&s);
    for cmd in [
        "STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 1", "UIDL",
    ] {
        assert!(c.cmd(cmd).starts_with("-ERR"), "{cmd} before login");
    }
    assert!(c.cmd("PASS x").starts_with("-ERR"), "PASS without USER");
    assert!(c.cmd("XYZZY").starts_with("-ERR"));
    assert!(c.cmd(&"A".repeat(300)).starts_with("-ERR"), "overlong line");
    c.send_raw(b"\x00\xff\xfe garbage\r\n").unwrap();
    assert!(c.line().starts_with("-ERR"));
    c.login("alice", "wonder land");
    for cmd in [
        "USER alice",
        "PASS x",
        "STLS",
        "UTF8",
        "RETR 0",
        "RETR 1",
        "LIST 99",
        "TOP 1",
        "DELE x",
    ] {
        assert!(c.cmd(cmd).starts_with("-ERR"), "{cmd} after login");
    }
    assert!(c.cmd("NOOP").starts_with("+OK"));
    assert!(c.cmd("QUIT").starts_with("+OK"));
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    let s = server();
    s.deliver("alice", b"Subject: p\n\nbody\n");
    let mut c = plain_client(&s);
    c.send_raw(b"USER alice\r\nPASS wonder land\r\nSTAT\r\nLIST\r\nRETR 1\r\nNOOP\r\nQUIT\r\n")
        .unwrap();
    assert!(c.line().starts_with("+OK"));
    assert!(c.line().starts_with("+OK"));
    assert!(c.line().starts_with("+OK 1 "));
    assert!(c.line().starts_with("+OK"));
    assert_eq!(c.body_lines().len(), 1);
    assert!(c.line().starts_with("+OK"));
    assert_eq!(c.body(), b"Subject: p\r\n\r\nbody\r\n");
    assert!(c.line().starts_with("+OK"));
    assert!(c.line().starts_with("+OK"));
    assert!(c.is_closed());
}

#[test]
fn runaway_line_closes_the_connection_and_too_many_bad_commands_too() {
    let s = server();
    let mut c = plain_client(&s);
    let _ = c.send_raw(&vec![b'x'; 100_000]);
    let r = c.line();
    assert!(r.starts_with("-ERR"), "{r}");
    assert!(c.is_closed());

    let mut c = plain_client(&s);
    let mut closed = false;
    for _ in 0..25 {
        c.send("BOGUS");
        match c.try_read_line() {
            Ok(Some(l)) => assert!(l.starts_with(b"-ERR")),
            _ => {
                closed = true;
                break;
            }
        }
    }
    assert!(
        closed || c.is_closed(),
        "too many bad commands must close the connection"
    );
}

#[test]
fn unknown_and_known_users_get_the_same_reply_and_failures_are_delayed() {
    let s = server();
    let mut c = plain_client(&s);
    assert!(c.cmd("USER nobody").starts_with("+OK"));
    let r1 = c.cmd("PASS whatever");
    assert!(c.cmd("USER alice").starts_with("+OK"));
    let r2 = c.cmd("PASS wrong");
    assert_eq!(r1, r2);
    assert!(r1.starts_with("-ERR [AUTH]"));
    // The third failure closes the connection.
    assert!(c.cmd("USER alice").starts_with("+OK"));
    assert!(c.cmd("PASS wrong").starts_with("-ERR [AUTH]"));
    assert!(c.is_closed());
}

#[test]
fn idle_sessions_are_logged_out() {
    let s = TestServer::builder()
        .user("alice", "pw")
        .config(|c| c.limits.idle_timeout = Duration::from_millis(300))
        .start();
    s.deliver("alice", b"Subject: x\n\ny\n");
    let mut c = plain_client(&s);
    c.login("alice", "pw");
    assert!(c.cmd("DELE 1").starts_with("+OK"));
    let r = c.line();
    assert!(r.starts_with("-ERR") && r.contains("inactivity"), "{r}");
    assert!(c.is_closed());
    assert_eq!(
        s.message_count("alice"),
        1,
        "autologout must not enter UPDATE"
    );
}

#[test]
fn per_ip_connection_limit_refuses_cleanly() {
    let s = TestServer::builder()
        .user("alice", "pw")
        .config(|c| c.limits.max_connections_per_ip = 2)
        .start();
    let _a = plain_client(&s);
    let _b = plain_client(&s);
    let mut c = LineClient::connect(s.pop3);
    let r = c.line();
    assert!(r.starts_with("-ERR [SYS/TEMP]"), "{r}");
    assert!(c.is_closed());
}

#[test]
fn login_delay_is_advertised_and_enforced() {
    let s = TestServer::builder()
        .user("alice", "pw")
        .config(|c| c.pop3.login_delay = Some(3600))
        .start();
    let mut c = plain_client(&s);
    assert!(capa(&mut c).contains(&"LOGIN-DELAY 3600".to_string()));
    c.login("alice", "pw");
    assert!(c.cmd("QUIT").starts_with("+OK"));
    let mut c = plain_client(&s);
    assert!(c.cmd("USER alice").starts_with("+OK"));
    let r = c.cmd("PASS pw");
    assert!(r.starts_with("-ERR [LOGIN-DELAY]"), "{r}");
}

#[test]
fn proxy_header_from_a_trusted_network_sets_the_client_address() {
    let s = TestServer::builder()
        .user("alice", "pw")
        .trust_loopback(false)
        .config(|c| c.proxy_trusted = vec!["127.0.0.0/8".parse().unwrap()])
        .start();
    // The forwarded client is 192.0.2.1: not loopback, so plaintext is refused; this shows
    // the header's address is the one policy applies to.
    let mut c = LineClient::connect(s.pop3);
    c.send_raw(b"PROXY TCP4 192.0.2.1 127.0.0.1 40000 110\r\n")
        .unwrap();
    assert!(c.line().starts_with("+OK"));
    assert!(c.cmd("USER alice").starts_with("-ERR [AUTH]"));
    // Without a header from a trusted address: closed.
    let mut c = LineClient::connect(s.pop3);
    c.send("CAPA");
    assert!(c.is_closed());
}

#[test]
fn half_closed_client_gets_its_answers_and_nothing_is_deleted() {
    let s = server();
    s.deliver("alice", b"Subject: x\n\ny\n");
    let mut c = plain_client(&s);
    c.send_raw(b"USER alice\r\nPASS wonder land\r\nDELE 1\r\n")
        .unwrap();
    c.shutdown_write();
    assert!(c.line().starts_with("+OK"));
    assert!(c.line().starts_with("+OK"));
    assert!(c.line().starts_with("+OK"));
    assert!(c.is_closed());
    s.wait_mailbox_free("alice");
    assert_eq!(s.message_count("alice"), 1);
}

#[test]
fn utf8_command_before_login() {
    let s = server();
    let mut c = plain_client(&s);
    assert!(c.cmd("UTF8").starts_with("+OK"));
    c.login("alice", "wonder land");
    assert!(c.cmd("UTF8").starts_with("-ERR"));
}

#[test]
fn total_connection_limit_refuses_cleanly() {
    let s = TestServer::builder()
        .user("alice", "pw")
        .config(|c| c.limits.max_connections = 2)
        .start();
    let _a = plain_client(&s);
    let _b = tls_client(&s);
    let mut c = LineClient::connect(s.pop3);
    let r = c.line();
    assert!(
        r.starts_with("-ERR [SYS/TEMP]") && r.contains("Too many connections"),
        "{r}"
    );
}

#[test]
fn ipv6_loopback_listener_serves_pop3() {
    let s = TestServer::builder()
        .user("alice", "pw")
        .config(|c| c.listeners[0].address = "[::1]:0".parse().unwrap())
        .start();
    if !s.pop3.is_ipv6() {
        panic!("listener not on IPv6: {}", s.pop3);
    }
    let mut c = plain_client(&s);
    c.login("alice", "pw");
    assert!(c.cmd("QUIT").starts_with("+OK"));
}

#[test]
fn tls_certificate_reload_takes_effect_for_new_connections() {
    use buzon_server::config::{Config, Listener, Protocol, TlsSource};
    let dir = tempfile::tempdir().unwrap();
    let ca = buzon_testkit::TestCa::new();
    let first = ca.issue(&dir.path().join("a"), &["localhost"], (-1, 30));
    let second = ca.issue(&dir.path().join("b"), &["localhost"], (-1, 60));
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::copy(&first.cert_path, &cert).unwrap();
    std::fs::copy(&first.key_path, &key).unwrap();
    let mut config = Config::embedded_default(dir.path());
    config.listeners = vec![Listener::new(
        "127.0.0.1:0".parse().unwrap(),
        Protocol::Pop3s,
    )];
    config.tls = TlsSource::Files {
        certificate: cert.clone(),
        key: key.clone(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(buzon_server::start(config)).unwrap();
    let addr = server.addr(Protocol::Pop3s).expect("no listener");
    let fp1 = server.tls_fingerprint();
    assert_eq!(fp1, buzon_server::tls::fingerprint_of(&first.der));
    // A broken file is refused and the old certificate stays.
    std::fs::write(&cert, b"not a certificate").unwrap();
    assert!(server.reload_tls().is_err());
    assert_eq!(server.tls_fingerprint(), fp1);
    let mut c = LineClient::connect_tls(addr, ca.client_config(), "localhost");
    assert!(c.line().starts_with("+OK"));
    // The renewed certificate is used by the next connection.
    std::fs::copy(&second.cert_path, &cert).unwrap();
    std::fs::copy(&second.key_path, &key).unwrap();
    let fp2 = server.reload_tls().unwrap();
    assert_eq!(fp2, buzon_server::tls::fingerprint_of(&second.der));
    let mut c2 = LineClient::connect_tls(addr, ca.client_config(), "localhost");
    assert!(c2.line().starts_with("+OK"));
    assert_eq!(c2.peer_fingerprint().as_deref(), Some(fp2.as_str()));
    // The session that started before the reload goes on.
    assert!(c.cmd("CAPA").starts_with("+OK"));
    rt.block_on(server.shutdown(Duration::from_secs(5)));
}

#[test]
fn per_address_limit_counts_an_ipv6_64_as_one_client_and_ipv4_per_address() {
    use buzon_server::config::{Listener, Protocol};
    let s = TestServer::builder()
        .user("alice", "pw")
        .config(|c| {
            c.limits.max_connections_per_ip = 1;
            // Only 127.0.0.1 speaks PROXY: it stands for a load balancer that forwards
            // IPv6 clients, which loopback alone cannot provide (it has only ::1).
            c.proxy_trusted = vec!["127.0.0.1/32".parse().unwrap()];
            c.listeners
                .push(Listener::new("[::1]:0".parse().unwrap(), Protocol::Pop3));
        })
        .start();
    let proxied = |client: &str| {
        let mut c = LineClient::connect(s.pop3);
        let family = if client.contains(':') { "TCP6" } else { "TCP4" };
        let dst = if client.contains(':') {
            "2001:db8::110"
        } else {
            "192.0.2.110"
        };
        c.send_raw(format!("PROXY {family} {client} {dst} 40000 110\r\n").as_bytes())
            .unwrap();
        let first = c.line();
        (c, first)
    };
    let (_a, r) = proxied("2001:db8:1:2::1");
    assert!(r.starts_with("+OK"), "{r}");
    // Another address of the same /64: the same client, over its limit.
    let (mut b, r) = proxied("2001:db8:1:2:ffff:ffff:ffff:fffe");
    assert!(
        r.starts_with("-ERR [SYS/TEMP]"),
        "a second address of one /64 got {r}"
    );
    assert!(b.is_closed());
    // The next /64 is another client.
    let (_c, r) = proxied("2001:db8:1:3::1");
    assert!(r.starts_with("+OK"), "{r}");
    // IPv4 clients are counted per address.
    let (_d, r) = proxied("192.0.2.1");
    assert!(r.starts_with("+OK"), "{r}");
    let (_e, r) = proxied("192.0.2.2");
    assert!(r.starts_with("+OK"), "{r}");
    // Directly over loopback: 127.0.0.2 and 127.0.0.3 are two clients, ::1 one more.
    let direct = |src: &str, to: std::net::SocketAddr| {
        let mut c = LineClient::connect_from(src.parse().unwrap(), to);
        let first = c.line();
        (c, first)
    };
    let (_f, r) = direct("127.0.0.2", s.pop3);
    assert!(r.starts_with("+OK"), "{r}");
    let (_g, r) = direct("127.0.0.3", s.pop3);
    assert!(r.starts_with("+OK"), "{r}");
    let (_h, r) = direct("127.0.0.2", s.pop3);
    assert!(r.starts_with("-ERR [SYS/TEMP]"), "{r}");
    let v6 = s
        .addrs
        .iter()
        .find(|(p, a)| *p == Protocol::Pop3 && a.is_ipv6())
        .map(|(_, a)| *a)
        .unwrap_or_else(|| panic!("no IPv6 listener in {:?}", s.addrs));
    let (_i, r) = direct("::1", v6);
    assert!(r.starts_with("+OK"), "{r}");
    let (_j, r) = direct("::1", v6);
    assert!(r.starts_with("-ERR [SYS/TEMP]"), "{r}");
}

/// RFC 6856 LANG over real TCP: `[pop3] language = "es"` greets and answers in Spanish,
/// also the driver's own replies (a wrong password, with its `[AUTH]` code); LANG en
/// switches to English; numbers never change.
#[test]
fn lang_over_tcp_with_spanish_default() {
    let s = TestServer::builder()
        .user("alice", "pw")
        .config(|c| {
            c.pop3.language = buzon_i18n::Lang::Es;
            c.pop3.greeting = buzon_i18n::text(buzon_i18n::Lang::Es, "pop3-greeting", &[]);
        })
        .start();
    s.deliver("alice", MSG1);
    let (mut c, greeting) = plain_client_greeting(&s);
    assert_eq!(greeting, "+OK Buzón preparado.");
    assert!(capa(&mut c).contains(&"LANG".to_string()));
    assert_eq!(c.cmd("USER alice"), "+OK");
    assert_eq!(c.cmd("PASS wrong"), "-ERR [AUTH] Error de autenticación.");
    assert_eq!(c.cmd("LANG en"), "+OK en Language changed");
    assert_eq!(c.cmd("USER alice"), "+OK");
    assert_eq!(c.cmd("PASS wrong"), "-ERR [AUTH] Authentication failed.");
    assert_eq!(c.cmd("LANG *"), "+OK es Idioma cambiado");
    c.login("alice", "pw");
    let stat = c.cmd("STAT");
    let numbers: Vec<&str> = stat.split(' ').skip(1).collect();
    assert!(
        stat.starts_with("+OK 1 ") && numbers.len() == 2 && numbers[1].parse::<u64>().is_ok(),
        "{stat}"
    );
    assert_eq!(c.cmd("DELE 1"), "+OK Marcado para borrar.");
    assert_eq!(
        c.cmd("QUIT"),
        "+OK Cerrando la sesión; se ha borrado 1 mensaje."
    );
}
