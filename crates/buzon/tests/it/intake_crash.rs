//! Mail intake against the real binary. Crash safety of `buzon serve`: SIGKILL in the
//! middle of DATA and right after the success reply, a file-size limit that makes writes
//! fail, and a full disk (a small tmpfs, when the test may mount one). The claims: a
//! message is in `new/` complete, or not at all; a success reply is only ever sent for a
//! message that is stored and fsynced; failures are 4xx and leave nothing visible. And
//! `buzon deliver`: every documented `sysexits.h` exit code.
//!
//! Every test runs on the store of the run (`BUZON_TEST_STORE`, see
//! `buzon_testkit::store`); the full-disk and file-size-limit tests and the two
//! Maildir-file cases of the exit-code test are about Maildir files and say so when the
//! run is on PostgreSQL.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use buzon_testkit::process::{write_config, BuzonProcess};
use buzon_testkit::smtp::{status, SmtpClient};
use buzon_testkit::{LineClient, TestCa, TestStore};

use crate::BIN;

const LISTENERS: &str = "\n[[listen]]\naddress = \"127.0.0.1:0\"\nprotocol = \"lmtp\"\n\n[[listen]]\naddress = \"127.0.0.1:0\"\nprotocol = \"smtp\"\n\n[delivery]\nlocal_domains = [\"example.com\"]\n";

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    data: PathBuf,
    store: TestStore,
}

fn setup(users: &[&str]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let data = dir.path().join("data");
    let store = TestStore::for_run(&data);
    let extra = format!("{LISTENERS}{}", store.config_toml(dir.path()));
    let config = write_config(dir.path(), &ca, &extra);
    let stored = buzon_auth::hash_password(b"pw", &buzon_auth::HashParams::fast_for_tests());
    for u in users {
        store.add_user(u, &stored, &[]);
    }
    Setup {
        dir,
        config,
        data,
        store,
    }
}

fn start(s: &Setup, binary: &Path) -> BuzonProcess {
    BuzonProcess::serve(binary, &s.config, &s.data)
}

/// Files in `<user>/<sub>`.
fn files(data: &Path, user: &str, sub: &str) -> Vec<Vec<u8>> {
    buzon_testkit::maildir::files(&data.join("mail").join(user).join(sub))
}

/// The messages in `user`'s INBOX, in either store.
fn delivered(s: &Setup, user: &str) -> Vec<Vec<u8>> {
    s.store.stored(user, None)
}

fn message(i: usize, body_lines: usize) -> Vec<u8> {
    let mut m = format!("From: s@remote.example\r\nSubject: message {i}\r\nMessage-ID: <{i}@remote.example>\r\n\r\n").into_bytes();
    for l in 0..body_lines {
        m.extend_from_slice(
            format!("line {l} of message {i}: the quick brown fox jumps over the lazy dog\r\n")
                .as_bytes(),
        );
    }
    m.extend_from_slice(format!("END OF MESSAGE {i}\r\n").as_bytes());
    m
}

/// The stored form of a message: trace headers, then the message with LF line ends.
fn is_complete_copy(stored: &[u8], sent: &[u8]) -> bool {
    let lf = String::from_utf8_lossy(sent)
        .replace("\r\n", "\n")
        .into_bytes();
    stored.starts_with(b"Return-Path: <s@remote.example>\nDelivered-To: ") && stored.ends_with(&lf)
}

fn lmtp_envelope(addr: SocketAddr, rcpt: &str) -> SmtpClient {
    let mut c = SmtpClient::connect(addr);
    c.expect("LHLO crash.test", 250);
    c.expect("MAIL FROM:<s@remote.example>", 250);
    c.expect(&format!("RCPT TO:<{rcpt}>"), 250);
    c
}

#[test]
fn sigkill_during_data_stores_nothing_and_sends_no_success() {
    let s = setup(&["alice"]);
    let mut p = start(&s, Path::new(BIN));
    // A message of 3 MiB, so the spool has moved to a file when the kill comes.
    let big = message(1, 40_000);
    let mut c = lmtp_envelope(p.addr("LMTP"), "alice@example.com");
    c.expect("DATA", 354);
    let wire = buzon_testkit::smtp::encode_data(&big);
    let half = wire.len() / 2;
    c.line.send_raw(&wire[..half]).unwrap();
    // Scenario: the kill should come while the server is taking in the message (nothing is
    // asserted about timing: nothing may be stored wherever the kill lands).
    std::thread::sleep(Duration::from_millis(300));
    p.kill();
    let after = c.try_reply();
    assert!(
        after.is_err(),
        "no reply may come for an unfinished message: {after:?}"
    );
    assert_nothing_stored(&s, "alice");
    let spool: Vec<_> = std::fs::read_dir(s.data.join("spool"))
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    assert!(
        spool.is_empty(),
        "spool files are unlinked at creation: {spool:?}"
    );
    // After a restart the mailbox is empty and works.
    let p = start(&s, Path::new(BIN));
    let mut pop = LineClient::connect(p.addr("POP3"));
    assert!(pop.line().starts_with("+OK"));
    pop.login("alice", "pw");
    assert!(pop.cmd("STAT").starts_with("+OK 0 0"));
}

#[test]
fn sigkill_right_after_the_reply_keeps_the_message_whole() {
    let s = setup(&["alice", "bob"]);
    let mut p = start(&s, Path::new(BIN));
    let m = message(2, 500);
    let mut c = lmtp_envelope(p.addr("LMTP"), "alice@example.com");
    c.expect("RCPT TO:<bob@example.com>", 250);
    let replies = c.data(&m, 2);
    assert!(replies.iter().all(|r| r.code == 250), "{replies:?}");
    p.kill();
    for user in ["alice", "bob"] {
        let got = delivered(&s, user);
        assert_eq!(got.len(), 1, "{user}");
        assert!(
            is_complete_copy(&got[0], &m),
            "{user}: the acknowledged message is complete"
        );
    }
}

#[test]
fn sigkill_at_random_points_of_a_stream_of_deliveries_loses_no_acknowledged_message() {
    let s = setup(&["alice"]);
    let mut p = start(&s, Path::new(BIN));
    let addr = p.addr("SMTP");
    let messages: Vec<Vec<u8>> = (0..200).map(|i| message(i, 20 + i % 50)).collect();
    let sent = messages.clone();
    let sender = std::thread::spawn(move || {
        let mut acked = Vec::new();
        let mut c = SmtpClient::connect(addr);
        c.expect("EHLO crash.test", 250);
        for (i, m) in sent.iter().enumerate() {
            let ok = (|| -> Result<bool, String> {
                c.line
                    .send_raw(
                        b"MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n",
                    )
                    .map_err(|e| e.to_string())?;
                for _ in 0..3 {
                    if c.try_reply()?.code >= 400 {
                        return Ok(false);
                    }
                }
                c.line
                    .send_raw(&buzon_testkit::smtp::encode_data(m))
                    .map_err(|e| e.to_string())?;
                Ok(c.try_reply()?.code == 250)
            })();
            match ok {
                Ok(true) => acked.push(i),
                _ => break,
            }
        }
        acked
    });
    // Kill once some deliveries are through, wherever the server happens to be.
    buzon_testkit::wait_until(Duration::from_secs(60), "20 deliveries", || {
        delivered(&s, "alice").len() >= 20
    });
    p.kill();
    let acked = sender.join().expect("sender thread panicked");
    let stored = delivered(&s, "alice");
    eprintln!(
        "killed after {} acknowledged deliveries of {}; {} stored",
        acked.len(),
        messages.len(),
        stored.len()
    );
    assert!(!acked.is_empty());
    for i in &acked {
        assert!(
            stored.iter().any(|f| is_complete_copy(f, &messages[*i])),
            "acknowledged message {i} is missing or incomplete"
        );
    }
    for f in &stored {
        assert!(
            messages.iter().any(|m| is_complete_copy(f, m)),
            "a stored file is not a complete message"
        );
    }
    assert!(
        stored.len() <= acked.len() + 1,
        "at most the message in flight is stored without its reply"
    );
}

#[test]
fn write_errors_get_451_and_leave_nothing_partial() {
    if buzon_testkit::maildir_only(
        "write_errors_get_451_and_leave_nothing_partial",
        "a file-size limit makes the Maildir's file writes fail; the PostgreSQL store writes no message files",
    ) {
        return;
    }
    let s = setup(&["alice"]);
    // The server runs with a 64 KiB file-size limit and SIGXFSZ ignored, so writing a
    // larger file fails with EFBIG, as a failing disk would.
    let wrapper = s.dir.path().join("buzon-limited");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nulimit -f 128\ntrap '' XFSZ\nexec {BIN} \"$@\"\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = start(&s, &wrapper);
    let big = message(3, 3000);
    assert!(big.len() > 128 * 1024);
    let mut c = lmtp_envelope(p.addr("LMTP"), "alice@example.com");
    let r = c.data(&big, 1);
    assert_eq!((r[0].code, status(&r[0]).as_str()), (451, "4.3.0"), "{r:?}");
    assert_nothing_stored(&s, "alice");
    // A message under the limit still gets through.
    c.expect("MAIL FROM:<s@remote.example>", 250);
    c.expect("RCPT TO:<alice@example.com>", 250);
    let small = message(4, 10);
    assert_eq!(c.data(&small, 1)[0].code, 250);
    assert_eq!(delivered(&s, "alice").len(), 1);
}

/// No trace of any message, whole or partial, in `user`'s mailbox (for Maildir in
/// `new/`, `cur/` and `tmp/`; PostgreSQL has only committed messages).
fn assert_nothing_stored(s: &Setup, user: &str) {
    assert!(delivered(s, user).is_empty(), "nothing may be stored");
    if !s.store.is_postgres() {
        for sub in ["new", "cur", "tmp"] {
            assert!(files(&s.data, user, sub).is_empty(), "{sub}/ must be empty");
        }
    }
}

/// A tmpfs mounted for the test, unmounted on drop.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_gets_452_and_leaves_nothing_partial() {
    if buzon_testkit::maildir_only(
        "a_full_disk_gets_452_and_leaves_nothing_partial",
        "mounts a small tmpfs on the user's Maildir",
    ) {
        return;
    }
    let s = setup(&["alice"]);
    let mailbox = s.data.join("mail/alice");
    std::fs::create_dir_all(&mailbox).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs"])
        .arg(&mailbox)
        .output();
    let _mount = match mounted {
        Ok(o) if o.status.success() => Mount(mailbox.clone()),
        Ok(o) => {
            buzon_testkit::skip(&format!(
                "cannot mount a small tmpfs ({}); the disk-full test needs root with CAP_SYS_ADMIN",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
            return;
        }
        Err(e) => {
            buzon_testkit::skip(&format!(
                "cannot run mount ({e}): the disk-full test was not run"
            ));
            return;
        }
    };
    let p = start(&s, Path::new(BIN));
    let big = message(5, 6000); // about 470 KiB: more than the 256 KiB filesystem
    let mut c = lmtp_envelope(p.addr("LMTP"), "alice@example.com");
    let r = c.data(&big, 1);
    assert_eq!((r[0].code, status(&r[0]).as_str()), (452, "4.3.1"), "{r:?}");
    assert_nothing_stored(&s, "alice");
    // The failed attempt left no space used: a small message fits.
    c.expect("MAIL FROM:<s@remote.example>", 250);
    c.expect("RCPT TO:<alice@example.com>", 250);
    let small = message(6, 10);
    assert_eq!(c.data(&small, 1)[0].code, 250);
    let got = delivered(&s, "alice");
    assert_eq!(got.len(), 1);
    assert!(is_complete_copy(&got[0], &small));
    drop(c);
    drop(p);
}

fn deliver(config: &Path, args: &[&str], stdin: &[u8]) -> (i32, String) {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .arg("deliver")
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("SENDER")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut i) = child.stdin.take() {
        // The command may exit before reading everything (e.g. an unknown user).
        let _ = i.write_all(stdin);
    }
    let out = child.wait_with_output().unwrap();
    buzon_testkit::run::code_and_text(&out)
}

#[test]
fn buzon_deliver_exit_codes() {
    let s = setup(&["alice", "bob", "carol", "dave"]);
    s.store.add_user(
        "full",
        "{PLAIN}pw",
        &[("userdb_quota_rule".into(), "*:messages=1".into())],
    );
    let sieve = s.data.join("sieve");
    std::fs::create_dir_all(&sieve).unwrap();
    std::fs::write(
        sieve.join("bob.sieve"),
        "require \"reject\";\nreject \"not here\";\n",
    )
    .unwrap();
    std::fs::write(sieve.join("alice.sieve"), "require [\"fileinto\", \"envelope\", \"subaddress\"];\nif envelope :detail \"to\" \"lists\" { fileinto \"Lists\"; }\n").unwrap();
    let msg = b"From sender@remote.example Tue Mar  5 09:04:05 2024\nReturn-Path: <sender@remote.example>\nDelivered-To: alice@example.com\nSubject: by deliver\n\nbody\n";

    // 0: delivered; the mbox From_ line dropped, the MTA's trace fields not doubled.
    let (code, out) = deliver(
        &s.config,
        &[
            "--to",
            "alice@example.com",
            "--from",
            "sender@remote.example",
        ],
        msg,
    );
    assert_eq!(code, 0, "{out}");
    let got = delivered(&s, "alice");
    assert_eq!(got, vec![b"Return-Path: <sender@remote.example>\nDelivered-To: alice@example.com\nSubject: by deliver\n\nbody\n".to_vec()]);
    // 0: a bare user name with a sub-address, filed by Sieve.
    let (code, out) = deliver(
        &s.config,
        &["--to", "Alice+lists"],
        b"Subject: digest\n\nx\n",
    );
    assert_eq!(code, 0, "{out}");
    let lists = s.store.stored("alice", Some("Lists"));
    assert_eq!(lists.len(), 1);
    assert!(
        lists[0].starts_with(b"Return-Path: <>\nDelivered-To: Alice+lists\n"),
        "{:?}",
        String::from_utf8_lossy(&lists[0])
    );

    let cases: Vec<(&[&str], &[u8], i32, &str)> = vec![
        (&["--to", "nobody@example.com"], b"x\n", 67, "no such user"),
        (
            &["--to", "alice@elsewhere.example"],
            b"x\n",
            67,
            "not local",
        ),
        (&["--to", "bob"], b"Subject: s\n\nx\n", 77, "not here"),
        (&["--to", "two words"], b"x\n", 64, "--to"),
    ];
    for (args, input, want, text) in cases {
        let (code, out) = deliver(&s.config, args, input);
        assert_eq!(code, want, "{args:?}: {out}");
        assert!(out.contains(text), "{args:?}: {out}");
    }
    // 65: larger than max_message_size (50 MiB by default; this config says 64K).
    let small = s.dir.path().join("small.toml");
    let text = std::fs::read_to_string(&s.config)
        .unwrap_or_default()
        .replace("[delivery]\n", "[delivery]\nmax_message_size = \"64K\"\n");
    std::fs::write(&small, text).unwrap();
    let (code, out) = deliver(&small, &["--to", "dave"], &vec![b'x'; 100 * 1024]);
    assert_eq!(code, 65, "{out}");
    // 75 / 73: over quota, temporary by default, permanent with "552".
    assert_eq!(deliver(&s.config, &["--to", "full"], b"x\n").0, 0);
    let (code, out) = deliver(&s.config, &["--to", "full"], b"x\n");
    assert_eq!(code, 75, "{out}");
    let permanent = s.dir.path().join("permanent.toml");
    let text = std::fs::read_to_string(&s.config)
        .unwrap_or_default()
        .replace("[delivery]\n", "[delivery]\nover_quota_reply = \"552\"\n");
    std::fs::write(&permanent, text).unwrap();
    assert_eq!(deliver(&permanent, &["--to", "full"], b"x\n").0, 73);
    if s.store.is_postgres() {
        eprintln!("NOTE: buzon_deliver_exit_codes: the 73 (mailbox path is a file) and 75 (dangling tmp/) cases are Maildir-only; not run against PostgreSQL");
        return;
    }
    // 73: the mailbox path is a file, so no Maildir can be created there.
    std::fs::create_dir_all(s.data.join("mail")).unwrap();
    std::fs::write(s.data.join("mail/carol"), b"not a folder").unwrap();
    let (code, out) = deliver(&s.config, &["--to", "carol"], b"x\n");
    assert_eq!(code, 73, "{out}");
    // 75: a write error (dave's tmp/ is a dangling link), and a broken config file.
    let dave = s.data.join("mail/dave");
    for sub in ["new", "cur"] {
        std::fs::create_dir_all(dave.join(sub)).unwrap();
    }
    std::os::unix::fs::symlink(dave.join("gone"), dave.join("tmp")).unwrap();
    let (code, out) = deliver(&s.config, &["--to", "dave"], b"x\n");
    assert_eq!(code, 75, "{out}");
    let broken = s.dir.path().join("broken.toml");
    std::fs::write(&broken, "[delivery]\nlocal_domains = 5\n").unwrap();
    let (code, out) = deliver(&broken, &["--to", "alice"], b"x\n");
    assert_eq!(code, 75, "{out}");
    assert!(out.contains("retry"), "{out}");
}

#[test]
fn buzon_deliver_takes_the_envelope_from_its_arguments_not_from_the_message() {
    let s = setup(&["alice"]);
    // A message that arrives already carrying trace fields of its own: a forged sender
    // at the top, another further down, a Delivered-To for this very recipient and one
    // for another address.
    let msg = b"From mta@relay.example Tue Mar  5 09:04:05 2024\nReturn-Path: <ceo@bank.example>\nDelivered-To: alice@example.com\nDelivered-To: list@lists.example\nSubject: urgent\nReturn-Path: <ceo@bank.example>\n\nPlease pay.\n";
    let (code, out) = deliver(
        &s.config,
        &["--to", "alice@example.com", "--from", "real@sender.example"],
        msg,
    );
    assert_eq!(code, 0, "{out}");
    let got = delivered(&s, "alice");
    assert_eq!(got.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&got[0]),
        "Return-Path: <real@sender.example>\nDelivered-To: alice@example.com\nDelivered-To: list@lists.example\nSubject: urgent\n\nPlease pay.\n",
        "only the sender the MTA passed may stand in Return-Path"
    );
    // Without --from (and $SENDER), the message's own Return-Path is not taken either.
    let (code, out) = deliver(
        &s.config,
        &["--to", "alice"],
        b"Return-Path: <ceo@bank.example>\nSubject: again\n\nx\n",
    );
    assert_eq!(code, 0, "{out}");
    let got = delivered(&s, "alice");
    let second = got
        .iter()
        .find(|m| m.ends_with(b"Subject: again\n\nx\n"))
        .expect("second message missing");
    assert_eq!(
        String::from_utf8_lossy(second),
        "Return-Path: <>\nDelivered-To: alice\nSubject: again\n\nx\n"
    );
}

#[test]
fn buzon_sieve_check_reports_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.sieve");
    let bad = dir.path().join("bad.sieve");
    std::fs::write(&good, "require \"fileinto\";\nif header :contains \"subject\" \"[list]\" { fileinto \"Lists\"; }\n").unwrap();
    std::fs::write(
        &bad,
        "require \"fileinto\";\nif true {\n  fileinto \"A\"\n  keep;\n}\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["sieve", "check"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(BIN)
        .args(["sieve", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("buzon: {}:4:3: ", bad.display())) && err.contains("missing"),
        "{err}"
    );
}
