//! Privilege separation of the real `buzon serve`: started as root with `[server] user`,
//! it binds a port below 1024, reads a TLS key only root can read, then runs — every
//! thread — as the unprivileged account, creating mail folders 0700 and files 0600 for
//! POP3 sessions and LMTP deliveries alike. A data
//! folder the account cannot write, or one anyone can write, is refused at start with the
//! fix in the message.
//!
//! The root-only tests need the system account `buzon-test` (`.ci/run` creates it). Not
//! running as root, they print a note and pass; as root with BUZON_INTEROP=1 (CI) a
//! missing account is a failure.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use buzon_pop3_proto::wire::{encode_message, Extent};
use buzon_testkit::process::{write_config, BuzonProcess};
use buzon_testkit::{LineClient, TestCa};

use crate::BIN;
const ACCOUNT: &str = "buzon-test";

pub fn is_root() -> bool {
    status_field(
        &std::fs::read_to_string("/proc/self/status").unwrap_or_default(),
        "Uid:",
    )
    .first()
        == Some(&0)
}

/// The numbers of a `/proc/PID/status` line such as `Uid:\t999\t999\t999\t999`.
fn status_field(status: &str, key: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|rest| {
            rest.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn id_of(flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, ACCOUNT]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// (uid, gid) of the test account when these tests can run.
fn account() -> Option<(u32, u32)> {
    if !is_root() {
        buzon_testkit::skip("not running as root (CI runs the privilege tests as root)");
        return None;
    }
    match (id_of("-u"), id_of("-g")) {
        (Some(u), Some(g)) => Some((u, g)),
        _ => {
            if std::env::var("BUZON_INTEROP").as_deref() == Ok("1") {
                panic!("the system account {ACCOUNT} is missing; create it with `useradd --system --no-create-home --shell /usr/sbin/nologin {ACCOUNT}` (.ci/run does)");
            }
            buzon_testkit::skip(&format!("no {ACCOUNT} account (.ci/run creates it)"));
            None
        }
    }
}

fn chown_r(path: &Path, uid: u32, gid: u32) {
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{gid}"))
        .arg(path)
        .status()
        .expect("chown");
    assert!(st.success(), "chown -R {}", path.display());
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// A free TCP port below 1024 on 127.0.0.1 (only root can bind one).
fn free_low_port() -> u16 {
    for port in (700..1000).rev() {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 700 and 999 on 127.0.0.1");
}

/// Every file and folder under `root`, with its metadata.
fn walk(root: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        assert!(out.len() < 100_000, "runaway walk");
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(m) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if m.is_dir() {
                todo.push(e.path());
            }
            out.push((e.path(), m));
        }
    }
    out
}

/// Runs `buzon serve --config CONFIG`, which must refuse to start (exit 1); gives what it
/// said on stderr.
fn serve_refused(config: &Path) -> String {
    let out = Command::new(BIN)
        .env("LC_ALL", "C") // messages are read in English, whatever the locale
        .args(["serve", "--config"])
        .arg(config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    err
}

#[test]
fn serve_as_root_binds_port_below_1024_and_runs_every_thread_as_the_server_account() {
    let Some((uid, gid)) = account() else { return };
    let dir = tempfile::tempdir().unwrap();
    // The account must be able to reach its data folder inside the temp dir.
    chmod(dir.path(), 0o711);
    let ca = TestCa::new();
    let lmtp = "\n[[listen]]\naddress = \"127.0.0.1:0\"\nprotocol = \"lmtp\"\n\n[delivery]\nlocal_domains = [\"example.com\"]\n";
    let config = write_config(
        dir.path(),
        &ca,
        &format!("{lmtp}\n[server]\nuser = \"{ACCOUNT}\"\n"),
    );
    let low = free_low_port();
    let text = std::fs::read_to_string(&config)
        .unwrap_or_default()
        .replacen(
            "address = \"127.0.0.1:0\"",
            &format!("address = \"127.0.0.1:{low}\""),
            1,
        );
    std::fs::write(&config, text).unwrap();
    // The TLS key stays root's alone: the server reads it before switching.
    for e in std::fs::read_dir(dir.path().join("tls"))
        .into_iter()
        .flatten()
        .flatten()
    {
        chmod(&e.path(), 0o600);
    }
    let data = dir.path().join("data");
    let stored = buzon_auth::hash_password(b"pw", &buzon_auth::HashParams::fast_for_tests());
    buzon_auth::add_user(&data.join("users"), "alice", &stored).unwrap();
    buzon_auth::add_user(&data.join("users"), "bob", &stored).unwrap();
    buzon_auth::add_user(&data.join("users"), "carol", &stored).unwrap();
    let md = buzon_store::Maildir::create(data.join("mail/alice")).unwrap();
    let m1 = b"Subject: one\n\nfirst\n".to_vec();
    let m2 = b"Subject: two\n\n.second\n".to_vec();
    md.deliver(&mut m1.as_slice(), None).unwrap();
    md.deliver(&mut m2.as_slice(), None).unwrap();
    // What an administrator does once: give the data folder to the server account.
    chmod(&data, 0o700);
    chown_r(&data, uid, gid);

    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    let pop3 = proc.addr("POP3");
    assert_eq!(pop3.port(), low, "listens on the port below 1024");
    let pid = proc.child.id();

    // Every thread of the process runs as the account: real, effective, saved and
    // filesystem ids, the only supplementary group is the account's, and
    // no-new-privileges is set.
    let tasks: Vec<PathBuf> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        tasks.len() > 1,
        "the runtime's worker threads exist: {tasks:?}"
    );
    for t in &tasks {
        let status = std::fs::read_to_string(t.join("status")).unwrap_or_default();
        assert_eq!(
            status_field(&status, "Uid:"),
            vec![uid; 4],
            "{}: {status}",
            t.display()
        );
        assert_eq!(
            status_field(&status, "Gid:"),
            vec![gid; 4],
            "{}",
            t.display()
        );
        assert_eq!(
            status_field(&status, "Groups:"),
            vec![gid],
            "{}",
            t.display()
        );
        assert_eq!(
            status_field(&status, "NoNewPrivs:"),
            vec![1],
            "{}",
            t.display()
        );
    }

    // Sessions work: POP3S with the root-only key, retrieval, deletion by the account.
    let mut c = LineClient::connect_tls(proc.addr("POP3S"), ca.client_config(), "localhost");
    assert!(c.line().starts_with("+OK"));
    c.login("alice", "pw");
    assert!(c.cmd("RETR 2").starts_with("+OK"));
    assert_eq!(c.raw_body(), encode_message(&m2, Extent::Whole));
    assert!(c.cmd("DELE 1").starts_with("+OK"));
    assert!(c.cmd("QUIT").starts_with("+OK"));
    // bob has no Maildir yet: the server creates it at login, as the account.
    let mut c = LineClient::connect(pop3);
    assert!(c.line().starts_with("+OK"));
    c.login("bob", "pw");
    assert!(c.cmd("STAT").starts_with("+OK 0 0"));
    assert!(c.cmd("QUIT").starts_with("+OK"));

    // Intake runs as the account too: a message delivered over LMTP lands in a Maildir
    // the server creates, with the same owner and modes, and downloads byte for byte.
    let lmtp_msg = b"Subject: over LMTP\r\n\r\ndelivered by the unprivileged server\r\n";
    let mut l = buzon_testkit::smtp::SmtpClient::connect(proc.addr("LMTP"));
    l.expect("LHLO client.test", 250);
    l.expect("MAIL FROM:<sender@remote.example>", 250);
    l.expect("RCPT TO:<carol@example.com>", 250);
    assert_eq!(l.data(lmtp_msg, 1)[0].code, 250);
    l.expect("QUIT", 221);
    let mut c = LineClient::connect(pop3);
    assert!(c.line().starts_with("+OK"));
    c.login("carol", "pw");
    assert!(c.cmd("RETR 1").starts_with("+OK"));
    let got = c.body();
    assert!(
        got.ends_with(lmtp_msg),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(c.cmd("QUIT").starts_with("+OK"));

    let alice: Vec<_> = walk(&data.join("mail/alice"))
        .into_iter()
        .filter(|(p, m)| {
            m.is_file()
                && p.parent()
                    .is_some_and(|d| d.ends_with("cur") || d.ends_with("new"))
        })
        .collect();
    assert_eq!(
        alice.len(),
        1,
        "message 1 deleted by the unprivileged server: {alice:?}"
    );
    let created = walk(&data.join("mail/bob"));
    assert!(!created.is_empty());
    let bob = std::fs::metadata(data.join("mail/bob")).unwrap();
    assert_eq!(
        (bob.uid(), bob.gid(), bob.mode() & 0o777),
        (uid, gid, 0o700)
    );
    for (p, m) in walk(&data.join("mail")) {
        assert_eq!(m.uid(), uid, "{} owned by the account", p.display());
        let mode = m.mode() & 0o777;
        if m.is_dir() {
            assert_eq!(mode, 0o700, "{}", p.display());
        } else {
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }
    drop(proc);
}

#[test]
fn data_folder_the_server_account_cannot_write_is_refused_with_the_fix() {
    let Some(_) = account() else { return };
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o711);
    let ca = TestCa::new();
    let config = write_config(
        dir.path(),
        &ca,
        &format!("\n[server]\nuser = \"{ACCOUNT}\"\n"),
    );
    let data = dir.path().join("data");
    chmod(&data, 0o755);
    let err = serve_refused(&config);
    assert!(
        err.contains("not writable by user buzon-test")
            && err.contains(&format!("chown -R buzon-test: {}", data.display())),
        "{err}"
    );
}

#[test]
fn world_writable_data_folder_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let config = write_config(dir.path(), &ca, "");
    let data = dir.path().join("data");
    chmod(&data, 0o777);
    let err = serve_refused(&config);
    assert!(
        err.contains("can be written by every user") && err.contains("chmod o-w"),
        "{err}"
    );
}

#[test]
fn unknown_server_account_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let config = write_config(
        dir.path(),
        &ca,
        "\n[server]\nuser = \"no-such-buzon-user\"\n",
    );
    let err = serve_refused(&config);
    assert!(
        err.contains("no-such-buzon-user") && err.contains("useradd --system"),
        "{err}"
    );
    // check-config accepts the file: names are resolved where the server runs.
    let out = Command::new(BIN)
        .env("LC_ALL", "C") // messages are read in English, whatever the locale
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn server_account_without_root_is_refused_unless_it_is_already_that_account() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let config = write_config(dir.path(), &ca, "\n[server]\nuser = \"nobody\"\n");
    // As root (CI), the server is started as the unprivileged test account instead.
    let mut cmd = if is_root() {
        let Some((uid, gid)) = account() else {
            return;
        };
        chown_r(dir.path(), uid, gid);
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={uid}"))
            .arg(format!("--regid={gid}"))
            .arg("--clear-groups")
            .arg(BIN);
        c
    } else {
        Command::new(BIN)
    };
    let out = cmd
        .args(["serve", "--config"])
        .arg(&config)
        .env("LC_ALL", "C") // messages are read in English, whatever the locale
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("not root"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Links planted by the server's account in its own folders must not steer root.

/// What a `buzon` run did within `limit`: its exit status (None: still running, so it
/// was killed), and its stdout and stderr.
struct Run {
    status: Option<std::process::ExitStatus>,
    stdout: String,
    stderr: String,
}

/// Runs `buzon ARGS` with `stdin`, waiting (bounded) for it to exit or, for `serve`, to
/// print its certificate's fingerprint (it is serving: then it is killed).
fn run_bounded(args: &[&std::ffi::OsStr], stdin: &[u8]) -> Run {
    use std::io::{Read, Write};
    use std::process::Stdio;
    let mut child = Command::new(BIN)
        .env("LC_ALL", "C") // messages are read in English, whatever the locale
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(stdin);
    }
    let reader = |mut r: Box<dyn Read + Send>| {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        rx
    };
    let out_rx = reader(Box::new(child.stdout.take().expect("stdout")));
    let err_rx = reader(Box::new(child.stderr.take().expect("stderr")));
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    // Until it exits, or serves (then it is killed), or 60 s have passed (killed too).
    let ended = buzon_testkit::poll(std::time::Duration::from_secs(60), || {
        while let Ok(b) = out_rx.try_recv() {
            stdout.extend(b);
        }
        while let Ok(b) = err_rx.try_recv() {
            stderr.extend(b);
        }
        if let Ok(Some(s)) = child.try_wait() {
            return Some(Some(s));
        }
        String::from_utf8_lossy(&stdout)
            .contains("TLS certificate SHA-256")
            .then_some(None)
    });
    let status = match ended {
        Some(Some(s)) => Some(s),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    };
    // What the pipes still hold (bounded: the child is gone, so they end).
    for b in out_rx.iter() {
        stdout.extend(b);
    }
    for b in err_rx.iter() {
        stderr.extend(b);
    }
    Run {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// A config for a self-signed certificate in `<dir>/data/tls`, switching to the test
/// account; the data folder belongs to the account, as the administrator left it.
fn self_signed_setup(dir: &Path, uid: u32, gid: u32) -> (PathBuf, PathBuf) {
    chmod(dir, 0o711);
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("tls")).unwrap();
    let config = dir.join("buzon.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {data:?}\nhostname = \"test.buzon.invalid\"\n\n[[listen]]\naddress = \"127.0.0.1:0\"\nprotocol = \"pop3\"\n\n[[listen]]\naddress = \"127.0.0.1:0\"\nprotocol = \"pop3s\"\n\n[auth]\nargon2_memory_kib = 256\nargon2_iterations = 1\n\n[server]\nuser = \"{ACCOUNT}\"\n"
        ),
    )
    .unwrap();
    chmod(&data, 0o700);
    chown_r(&data, uid, gid);
    (config, data)
}

/// A file only root may read or write, outside every folder the account controls.
fn root_only(path: &Path, content: &[u8]) {
    std::fs::write(path, content).unwrap();
    chmod(path, 0o600);
}

fn symlink_as(target: &Path, link: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::symlink(target, link).unwrap();
    std::os::unix::fs::lchown(link, Some(uid), Some(gid)).unwrap();
}

#[test]
fn root_never_writes_through_links_the_account_planted_for_the_self_signed_certificate() {
    let Some((uid, gid)) = account() else { return };
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    let victim2 = outside.path().join("victim2");
    root_only(&victim, b"precious\n");
    root_only(&victim2, b"precious too\n");
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = self_signed_setup(dir.path(), uid, gid);
    // The names the temporary files of the generated pair had, and a new file root
    // would create for the account.
    let tls = data.join("tls");
    symlink_as(&victim, &tls.join("key.tmp"), uid, gid);
    symlink_as(&victim2, &tls.join("cert.tmp"), uid, gid);
    let run = run_bounded(
        &["serve".as_ref(), "--config".as_ref(), config.as_os_str()],
        b"",
    );
    assert_eq!(
        std::fs::read_to_string(&victim).ok().as_deref(),
        Some("precious\n"),
        "root wrote through a link the account planted: {}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&victim2).ok().as_deref(),
        Some("precious too\n")
    );
    assert!(run.status.is_none(), "the server starts: {}", run.stderr);
    // The generated pair belongs to the account, so it can reload it (SIGHUP) later.
    for f in ["key.pem", "cert.pem"] {
        let m = std::fs::symlink_metadata(tls.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(m.is_file(), "{f} is a file of its own");
        assert_eq!(
            (m.uid(), m.gid(), m.mode() & 0o777),
            (uid, gid, 0o600),
            "{f}"
        );
    }
    let m = std::fs::metadata(&tls).unwrap();
    assert_eq!((m.uid(), m.gid()), (uid, gid));
    // A new tls/ folder that root makes is the account's too.
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = self_signed_setup(dir.path(), uid, gid);
    std::fs::remove_dir(data.join("tls")).unwrap();
    let run = run_bounded(
        &["serve".as_ref(), "--config".as_ref(), config.as_os_str()],
        b"",
    );
    assert!(run.status.is_none(), "the server starts: {}", run.stderr);
    for p in ["tls", "tls/key.pem", "tls/cert.pem"] {
        let m = std::fs::symlink_metadata(data.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(
            (m.uid(), m.gid(), m.mode() & 0o777),
            (uid, gid, if p == "tls" { 0o700 } else { 0o600 }),
            "{p}"
        );
    }
}

#[test]
fn root_refuses_tls_files_and_folders_the_account_replaced_with_links() {
    let Some((uid, gid)) = account() else { return };
    let outside = tempfile::tempdir().unwrap();
    // A certificate whose key only root may read.
    let ca = TestCa::new();
    let secret = ca.issue(&outside.path().join("secret"), &["localhost"], (-1, 30));
    chmod(&secret.key_path, 0o600);
    let empty = outside.path().join("empty");
    std::fs::create_dir(&empty).unwrap();

    // The generated pair replaced with links to root's files.
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = self_signed_setup(dir.path(), uid, gid);
    let tls = data.join("tls");
    symlink_as(&secret.key_path, &tls.join("key.pem"), uid, gid);
    symlink_as(&secret.cert_path, &tls.join("cert.pem"), uid, gid);
    let run = run_bounded(
        &["serve".as_ref(), "--config".as_ref(), config.as_os_str()],
        b"",
    );
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(1),
        "the server loaded the root-only key through the account's link: {}{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&tls.join("cert.pem").display().to_string())
            || run
                .stderr
                .contains(&tls.join("key.pem").display().to_string()),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("symbolic link") && run.stderr.contains("remove"),
        "{}",
        run.stderr
    );

    // The tls folder itself replaced with a link to a folder of root's.
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = self_signed_setup(dir.path(), uid, gid);
    let tls = data.join("tls");
    std::fs::remove_dir(&tls).unwrap();
    symlink_as(&empty, &tls, uid, gid);
    let run = run_bounded(
        &["serve".as_ref(), "--config".as_ref(), config.as_os_str()],
        b"",
    );
    assert_eq!(
        std::fs::read_dir(&empty).map(|d| d.count()).ok(),
        Some(0),
        "root created files through the account's link: {}",
        run.stderr
    );
    assert_eq!(run.status.and_then(|s| s.code()), Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(&tls.display().to_string()) && run.stderr.contains("symbolic link"),
        "{}",
        run.stderr
    );

    // Configured files: a link in a folder the account can change is refused too, while
    // links kept by root in root's own folders (as certbot's live/ folder) are followed.
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = self_signed_setup(dir.path(), uid, gid);
    let live = outside.path().join("live");
    std::fs::create_dir(&live).unwrap();
    chmod(&live, 0o755);
    std::os::unix::fs::symlink(&secret.cert_path, live.join("fullchain.pem")).unwrap();
    std::os::unix::fs::symlink(&secret.key_path, live.join("privkey.pem")).unwrap();
    symlink_as(&secret.key_path, &data.join("tls/planted.pem"), uid, gid);
    let text = std::fs::read_to_string(&config).unwrap_or_default();
    let with_tls = |cert: &Path, key: &Path| {
        std::fs::write(
            &config,
            format!("{text}\n[tls]\ncertificate = {cert:?}\nkey = {key:?}\n"),
        )
        .unwrap();
    };
    with_tls(&live.join("fullchain.pem"), &data.join("tls/planted.pem"));
    let run = run_bounded(
        &["serve".as_ref(), "--config".as_ref(), config.as_os_str()],
        b"",
    );
    assert_eq!(run.status.and_then(|s| s.code()), Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&data.join("tls/planted.pem").display().to_string())
            && run.stderr.contains("symbolic link"),
        "{}",
        run.stderr
    );
    with_tls(&live.join("fullchain.pem"), &live.join("privkey.pem"));
    let run = run_bounded(
        &["serve".as_ref(), "--config".as_ref(), config.as_os_str()],
        b"",
    );
    assert!(
        run.status.is_none() && run.stdout.contains("TLS certificate SHA-256"),
        "root's own links are followed: {}",
        run.stderr
    );
}

#[test]
fn buzon_user_as_root_refuses_a_users_file_or_lock_file_the_account_replaced_with_a_link() {
    let Some((uid, gid)) = account() else { return };
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("shadow");
    root_only(&victim, b"root:{PLAIN}not-yours\n");
    let created = outside.path().join("created-by-root");

    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o711);
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    chmod(&data, 0o700);
    chown_r(&data, uid, gid);
    let users = data.join("users");
    symlink_as(&victim, &users, uid, gid);
    let add = |name: &str| {
        run_bounded(
            &[
                "user".as_ref(),
                "add".as_ref(),
                name.as_ref(),
                "--data-dir".as_ref(),
                data.as_os_str(),
            ],
            b"pw\n",
        )
    };
    let run = add("mallory");
    assert_eq!(
        std::fs::read_to_string(&victim).ok().as_deref(),
        Some("root:{PLAIN}not-yours\n"),
        "root edited the file behind the account's link: {}",
        run.stdout
    );
    assert_eq!(run.status.and_then(|s| s.code()), Some(1), "{}", run.stdout);
    assert!(
        run.stderr.contains(&users.display().to_string())
            && run.stderr.contains("symbolic link")
            && run.stderr.contains("auth.users_file"),
        "{}",
        run.stderr
    );
    let run = run_bounded(
        &[
            "user".as_ref(),
            "list".as_ref(),
            "--data-dir".as_ref(),
            data.as_os_str(),
        ],
        b"",
    );
    assert!(!run.stdout.contains("root"), "{}", run.stdout);
    assert_eq!(run.status.and_then(|s| s.code()), Some(1), "{}", run.stdout);

    // A real users file, but its lock file a link to where root would create a file.
    std::fs::remove_file(&users).unwrap();
    std::fs::write(&users, b"").unwrap();
    chown_r(&users, uid, gid);
    let lock = data.join("users.lock");
    symlink_as(&created, &lock, uid, gid);
    let run = add("mallory");
    assert!(
        !created.exists(),
        "root created a file through the account's link: {}",
        run.stdout
    );
    assert_eq!(run.status.and_then(|s| s.code()), Some(1), "{}", run.stdout);
    assert!(
        run.stderr.contains(&lock.display().to_string()) && run.stderr.contains("symbolic link"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&users).ok().as_deref(), Some(""));
    // Without the link, root edits the file and it stays the account's.
    std::fs::remove_file(&lock).unwrap();
    let run = add("alice");
    assert_eq!(run.status.and_then(|s| s.code()), Some(0), "{}", run.stderr);
    let m = std::fs::metadata(&users).unwrap();
    assert_eq!((m.uid(), m.gid()), (uid, gid));
}

#[test]
fn a_server_keeping_roots_rights_refuses_a_data_folder_another_account_owns() {
    let Some((uid, gid)) = account() else { return };
    let outside = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o711);
    let data = dir.path().join("buzon-data");
    std::fs::create_dir(&data).unwrap();
    chmod(&data, 0o700);
    // The first start writes the users file and the demo mailbox: the account points
    // the mailbox elsewhere.
    std::fs::create_dir(data.join("mail")).unwrap();
    symlink_as(outside.path(), &data.join("mail/demo"), uid, gid);
    chown_r(&data, uid, gid);
    let run = run_bounded(
        &["serve".as_ref(), "--data-dir".as_ref(), data.as_os_str()],
        b"",
    );
    assert_eq!(
        std::fs::read_dir(outside.path()).map(|d| d.count()).ok(),
        Some(0),
        "root wrote the welcome message through the account's link: {}",
        run.stdout
    );
    assert_eq!(run.status.and_then(|s| s.code()), Some(1), "{}", run.stdout);
    assert!(
        run.stderr.contains(&data.display().to_string())
            && run.stderr.contains(ACCOUNT)
            && run.stderr.contains("chown -R root:"),
        "{}",
        run.stderr
    );
}
