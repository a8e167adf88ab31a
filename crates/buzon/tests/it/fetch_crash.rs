//! Crash safety of `buzon fetch`: SIGKILL the real binary at each point of the safety
//! protocol (after RETR, after storing, after recording, after DELE, before QUIT), then
//! run it again cleanly and prove every message is stored exactly once and deleted on the
//! server only when the policy says so. Also the command-line surface: exit codes, the
//! summary line, --dry-run, --list, --json, and `buzon check` on broken setups.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use buzon_testkit::TestServer;

use crate::BIN;

fn msg(i: usize) -> Vec<u8> {
    format!(
        "From: s{i}@example.test\nSubject: crash test {i}\n\nbody {i}\n{}\n",
        "z".repeat(300)
    )
    .into_bytes()
}

struct Setup {
    server: TestServer,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(n: usize) -> Setup {
        let server = TestServer::builder().user("alice", "pw").start();
        for i in 0..n {
            server.deliver("alice", &msg(i));
        }
        Setup {
            server,
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    fn cmd(&self, dest: &[&str], extra: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("fetch")
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &self.server.pop3.port().to_string(),
                "--security",
                "none",
                "--allow-plaintext",
            ])
            .args([
                "--user",
                "alice",
                "--password-env",
                "BUZON_TEST_PW",
                "--ledger-dir",
            ])
            .arg(self.path("ledger"))
            .args(["--config"])
            .arg(self.path("none.toml"))
            .args(dest)
            .args(extra)
            .env("BUZON_TEST_PW", "pw")
            .stdin(Stdio::null());
        c
    }
}

fn output(mut c: Command) -> Output {
    c.output().expect("run buzon")
}

/// Starts `buzon fetch` halted at `point`, waits (bounded) until it says so, and SIGKILLs it.
fn kill_at(s: &Setup, dest: &[&str], extra: &[&str], point: &str) {
    let mut c = s.cmd(dest, extra);
    c.env("BUZON_FETCH_HALT_AT", point)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) if l.contains("halted at") => break,
            Ok(l) => seen.push(l),
            Err(_) => {
                if let Ok(Some(st)) = child.try_wait() {
                    panic!("buzon fetch ended ({st}) before halting at {point}: {seen:?}");
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "never halted at {point}: {seen:?}"
        );
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
}

fn maildir_messages(dir: &Path) -> Vec<Vec<u8>> {
    buzon_testkit::maildir::messages(dir)
}

const POINTS: [&str; 5] = [
    "after-retr:2",
    "after-store:2",
    "after-record:2",
    "after-dele:2",
    "before-quit:4",
];

#[test]
fn sigkill_at_each_point_then_a_clean_run_stores_each_message_once_maildir_delete() {
    for point in POINTS {
        let s = Setup::new(4);
        let md = s.path("Maildir");
        let dest = ["--maildir", md.to_str().unwrap_or_default()];
        kill_at(&s, &dest, &[], point);
        let out = output(s.cmd(&dest, &[]));
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{point}: {out:?}"
        );
        let mut want: Vec<Vec<u8>> = (0..4).map(msg).collect();
        want.sort();
        assert_eq!(
            maildir_messages(&md),
            want,
            "{point}: every message exactly once"
        );
        assert!(
            s.server.message_files("alice").is_empty(),
            "{point}: delete policy: all deleted after the clean run"
        );
        // And a third run finds nothing new.
        assert_eq!(output(s.cmd(&dest, &[])).status.code(), Some(1), "{point}");
    }
}

#[test]
fn sigkill_at_each_point_then_a_clean_run_mbox_keep() {
    // With keep there is no DELE, so no "after-dele" point.
    for point in POINTS
        .iter()
        .copied()
        .filter(|p| !p.starts_with("after-dele"))
    {
        let s = Setup::new(4);
        let mb = s.path("inbox.mbox");
        let dest = ["--mbox", mb.to_str().unwrap_or_default()];
        kill_at(&s, &dest, &["--keep"], point);
        let out = output(s.cmd(&dest, &["--keep"]));
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{point}: {out:?}"
        );
        let text = std::fs::read_to_string(&mb).unwrap_or_default();
        for i in 0..4 {
            assert_eq!(
                text.matches(&format!("Subject: crash test {i}\n")).count(),
                1,
                "{point}: message {i} once:\n{text}"
            );
        }
        assert_eq!(
            text.matches("\nFrom ").count() + usize::from(text.starts_with("From ")),
            4,
            "{point}"
        );
        assert_eq!(
            s.server.message_files("alice").len(),
            4,
            "{point}: keep deletes nothing"
        );
        assert!(
            !mb.with_file_name("inbox.mbox.lock").exists(),
            "{point}: dotlock released"
        );
        let drafts: Vec<String> = std::fs::read_dir(s.dir.path())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("inbox.mbox.lock."))
            .collect();
        assert!(drafts.is_empty(), "{point}: lock drafts left: {drafts:?}");
    }
}

#[test]
fn cli_summary_exit_codes_dry_run_list_and_json() {
    let s = Setup::new(3);
    let md = s.path("Maildir");
    let dest = ["--maildir", md.to_str().unwrap_or_default()];
    let out = output(s.cmd(&dest, &["--dry-run"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        text.contains("dry run") && text.matches(" fetch ").count() == 3,
        "{text}"
    );
    let out = output(s.cmd(&dest, &["--list"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("crash test 2") && text.contains("s1@example.test"),
        "{text}"
    );
    assert_eq!(
        maildir_messages(&md).len(),
        0,
        "--list and --dry-run store nothing"
    );
    let out = output(s.cmd(&dest, &["--keep"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(text.contains("3 new messages, 1.1 kB"), "{text}");
    let out = output(s.cmd(&dest, &["--keep", "--json"]));
    assert_eq!(out.status.code(), Some(1), "nothing new");
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(v[0]["report"]["fetched"], 0);
    assert_eq!(v[0]["report"]["on_server"], 3);
    // Wrong password: exit 6 and a message naming the cause.
    let mut c = s.cmd(&dest, &[]);
    c.env("BUZON_TEST_PW", "wrong");
    let out = output(c);
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rejected the login"),
        "{out:?}"
    );
}

/// `buzon check` of alice on the test server's plain port, password "pw" from the
/// environment, with the setup's accounts file (which names no destination).
fn plain_check(s: &Setup) -> Command {
    let mut c = Command::new(BIN);
    c.args([
        "check",
        "--host",
        "127.0.0.1",
        "--port",
        &s.server.pop3.port().to_string(),
        "--security",
        "none",
        "--allow-plaintext",
        "--user",
        "alice",
        "--password-env",
        "BUZON_TEST_PW",
        "--config",
    ])
    .arg(s.path("none.toml"))
    .env("BUZON_TEST_PW", "pw");
    c
}

#[test]
fn cli_check_prints_steps_and_exit_codes() {
    let s = Setup::new(1);
    let ok = output({
        let mut c = plain_check(&s);
        c.arg("--maildir").arg(s.path("M"));
        c
    });
    let text = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{text}");
    assert!(
        text.contains("✓ STAT") && text.contains("1 message waiting"),
        "{text}"
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let bad = output({
        let mut c = Command::new(BIN);
        c.args([
            "check",
            "--host",
            "127.0.0.1",
            "--port",
            &closed.port().to_string(),
            "--user",
            "alice",
            "--config",
        ])
        .arg(s.path("none.toml"))
        .arg("--maildir")
        .arg(s.path("M"));
        c
    });
    let text = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(4), "{text}");
    assert!(text.contains("✗ TCP") && text.contains("fix: "), "{text}");
}

#[test]
fn check_needs_no_destination() {
    // A diagnosis stores nothing: no maildir, mbox or mda, and no default in the file.
    let s = Setup::new(1);
    let out = output(plain_check(&s));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("✓ STAT"), "{text}");
    assert!(!text.contains("no destination"), "{text}");
    // fetch still needs one.
    let out = output({
        let mut c = Command::new(BIN);
        c.args([
            "fetch",
            "--host",
            "127.0.0.1",
            "--user",
            "alice",
            "--config",
        ])
        .arg(s.path("none.toml"));
        c
    });
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("no destination"), "{text}");
}

#[test]
fn a_new_ledger_and_its_new_folder_are_fsynced() {
    // Seen from outside with strace: creating the ledger fsyncs its folder (and the
    // folder's parent, since the folder is new too), so a power loss cannot take the
    // ledger file away.
    if Command::new("strace").arg("-V").output().is_err() {
        buzon_testkit::skip("strace is not installed (see .ci/apt-packages)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let ledger_dir = state.join("ledger");
    let trace = tmp.path().join("trace");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    // The ledger is opened before connecting; the closed port then ends the run.
    let out = output({
        let mut c = Command::new("strace");
        c.args(["-f", "-y", "-e", "trace=fsync,fdatasync", "-o"])
            .arg(&trace)
            .arg(BIN)
            .args(["fetch", "--host", "127.0.0.1", "--port"])
            .arg(closed.port().to_string())
            .args(["--user", "alice", "--password-env", "PW", "--ledger-dir"])
            .arg(&ledger_dir)
            .arg("--maildir")
            .arg(tmp.path().join("M"))
            .env("PW", "pw")
            .env("XDG_CONFIG_HOME", tmp.path());
        c
    });
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&trace).unwrap_or_default();
    let synced = |p: &Path| text.contains(&format!("<{}>)", p.display()));
    assert!(
        synced(&ledger_dir),
        "the ledger folder was not fsynced:\n{text}"
    );
    assert!(
        synced(&state),
        "the new folder's parent was not fsynced:\n{text}"
    );
    let ledger_file = std::fs::read_dir(&ledger_dir)
        .into_iter()
        .flatten()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "ledger"))
        .map(|e| e.path())
        .expect("no ledger file");
    assert!(
        synced(&ledger_file),
        "the ledger file was not fsynced:\n{text}"
    );
}

#[test]
fn setup_asks_before_sending_the_password_outside_the_domain() {
    // autoconfig for example.test names pop.provider.test: without a terminal and
    // without --yes, setup probes it without login and says what to run; with
    // --yes pop.provider.test it logs in (and so finds that the user name is "alice").
    let ca = buzon_testkit::TestCa::new();
    let tmp = tempfile::tempdir().unwrap();
    let cert = ca.issue(&tmp.path().join("tls"), &["pop.provider.test"], (-1, 30));
    let s = TestServer::builder()
        .user("alice", "pw")
        .config(move |c| {
            c.tls = buzon_server::config::TlsSource::Files {
                certificate: cert.cert_path,
                key: cert.key_path,
            }
        })
        .start();
    let ca_file = tmp.path().join("ca.pem");
    ca.write_pem(&ca_file);
    let dns = buzon_testkit::TestDns::start(vec![(
        "pop.provider.test",
        buzon_testkit::DnsRecord::A("127.0.0.1".parse().unwrap()),
    )]);
    let xml = format!(
        r#"<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="provider.test">
<incomingServer type="pop3"><hostname>pop.provider.test</hostname><port>{}</port><socketType>SSL</socketType></incomingServer>
</emailProvider></clientConfig>"#,
        s.pop3s.port()
    );
    let https =
        buzon_testkit::TestHttps::start(&ca, &["127.0.0.1"], vec![("/mail/config-v1.1.xml", xml)]);
    let setup = |yes: &[&str]| {
        output({
            let mut c = Command::new(BIN);
            c.args(["setup", "alice@example.test", "--no-guess", "--print"])
                .args(["--dns-server", &dns.addr.to_string(), "--autoconfig-base"])
                .arg(format!("https://127.0.0.1:{}", https.addr.port()))
                .arg("--ca-file")
                .arg(&ca_file)
                .args(["--password-env", "PW", "--config"])
                .arg(tmp.path().join("accounts.toml"))
                .args(yes)
                .env("PW", "pw")
                .stdin(Stdio::null());
            c
        })
    };
    let out = setup(&[]);
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(2), "{so}{se}");
    assert!(
        se.contains("your password was not sent to it")
            && se.contains("buzon setup alice@example.test --yes pop.provider.test"),
        "{se}"
    );
    assert!(so.contains("not logged in"), "{so}");
    let out = setup(&["--yes", "pop.provider.test"]);
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{so}{se}");
    assert!(
        so.contains("user = \"alice\"") && so.contains("logged in as alice"),
        "the login was tried once confirmed: {so}"
    );
    assert!(
        se.contains("warning: pop.provider.test is outside example.test"),
        "{se}"
    );

    // On a terminal (a pty from `script`), setup asks; "n" keeps the password back, "y"
    // lets it try the login.
    if Command::new("script").arg("--version").output().is_err() {
        buzon_testkit::skip(
            "script (bsdutils) is not installed: the prompt case on a terminal was not run",
        );
        return;
    }
    let line = format!(
        "{BIN} setup alice@example.test --no-guess --print --dns-server {} --autoconfig-base https://127.0.0.1:{} --ca-file {} --password-env PW --config {}",
        dns.addr,
        https.addr.port(),
        ca_file.display(),
        tmp.path().join("accounts.toml").display()
    );
    let on_terminal = |answer: &str| {
        let mut child = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env("PW", "pw")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(mut i) = child.stdin.take() {
            use std::io::Write;
            let _ = i.write_all(answer.as_bytes());
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, text) = on_terminal("n\n");
    assert!(
        text.contains("send your password to pop.provider.test"),
        "{text}"
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("not logged in"), "{text}");
    let (code, text) = on_terminal("y\n");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("logged in as alice"), "{text}");
}
