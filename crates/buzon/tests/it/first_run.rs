//! The README's first command: `buzon serve` with no config file must come up on the
//! embedded default (loopback, ports 1110/1995, a data folder it creates), create the
//! `demo` user with a password printed once and a welcome message, and let
//! `curl -k pop3s://demo:PASSWORD@127.0.0.1:1995/1` download it straight away; mail sent
//! to `demo@localhost` over SMTP on 127.0.0.1:1025 (the README's swaks line) arrives too.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use buzon_testkit::LineClient;

use crate::BIN;

struct Killer(std::process::Child);
impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The ports of the embedded default configuration (POP3, POP3S, LMTP, SMTP, HTTPS).
const DEFAULT_PORTS: [u16; 5] = [1110, 1995, 1024, 1025, 1443];

/// The tests that use the fixed default ports run one at a time (no other module of the
/// test binary uses these ports: see tests/it/main.rs).
static PORTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn ports_lock() -> std::sync::MutexGuard<'static, ()> {
    buzon_testkit::wait::exclusive(&PORTS)
}

/// What a started zero-config server printed.
struct FirstRun {
    _guard: Killer,
    password: String,
    curl_line: String,
}

/// Starts `buzon serve --data-dir DATA` with no config file and waits (at most 60 s) until
/// it is ready. Fails at once, naming the port, when one of the default ports is taken
/// (checked first when `precheck`, else seen in the server's own error), or with the
/// server's message when it exits early: never a silent wait.
fn start_first_run(data: &std::path::Path, precheck: bool) -> Result<FirstRun, String> {
    if precheck {
        for port in DEFAULT_PORTS {
            if let Err(e) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                return Err(format!(
                    "port 127.0.0.1:{port} is taken ({e}); the zero-config test needs the default ports {DEFAULT_PORTS:?} free: stop the program listening there"
                ));
            }
        }
    }
    let mut child = Command::new(BIN)
        .env("LC_ALL", "C") // messages are read in English, whatever the locale
        .args(["serve", "--data-dir"])
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {BIN}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut guard = Killer(child);
    let errors = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let errors2 = std::sync::Arc::clone(&errors);
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut e = errors2.lock().unwrap_or_else(|p| p.into_inner());
            e.push_str(&l);
            e.push('\n');
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut password = None;
    let mut curl_line = None;
    let exited = |guard: &mut Killer| -> String {
        let status = guard.0.wait().map(|s| s.to_string()).unwrap_or_default();
        // Give the stderr reader a moment to collect the last lines.
        // (bounded; no line at all is reported as such below).
        let _ = buzon_testkit::poll(Duration::from_secs(1), || {
            (!errors.lock().unwrap_or_else(|p| p.into_inner()).is_empty()).then_some(())
        });
        let text = errors.lock().unwrap_or_else(|p| p.into_inner()).clone();
        format!("buzon serve exited before it was ready ({status}): {text}")
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let line = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) => l,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(_)) = guard.0.try_wait() {
                    return Err(exited(&mut guard));
                }
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(exited(&mut guard));
            }
        };
        if let Some(p) = line.split("with password ").nth(1) {
            password = Some(p.trim().to_string());
        }
        if line.contains("curl -k pop3s://demo:") {
            curl_line = Some(line.clone());
        }
        if line.contains("TLS certificate SHA-256") {
            return Ok(FirstRun {
                _guard: guard,
                password: password.ok_or("no demo password printed")?,
                curl_line: curl_line.ok_or("no curl hint printed")?,
            });
        }
    }
    Err("buzon serve was not ready within 60 s".into())
}

/// Whether the first line of a users file stores a hash of `password`.
fn first_user_has_password(users_file: &str, password: &[u8]) -> bool {
    let hash = users_file
        .lines()
        .next()
        .and_then(|l| l.split_once(':'))
        .map_or("", |(_, h)| h);
    buzon_auth::verify_password(hash, password).ok() == Some(true)
}

#[test]
fn a_taken_default_port_fails_the_first_run_at_once_naming_the_port() {
    let _ports = ports_lock();
    // Occupy the POP3 port (if another program already holds it, it is taken anyway).
    let _holder = std::net::TcpListener::bind(("127.0.0.1", 1110));
    for precheck in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let start = Instant::now();
        let r = start_first_run(&dir.path().join("buzon-data"), precheck);
        let took = start.elapsed();
        let Err(message) = r else {
            panic!("the first run started although port 1110 is taken")
        };
        println!("precheck {precheck}: failed after {took:?}: {message}");
        assert!(message.contains("127.0.0.1:1110"), "{message}");
        assert!(took < Duration::from_secs(30), "took {took:?}");
    }
}

#[test]
fn zero_config_first_run_serves_the_demo_user() {
    let _ports = ports_lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("buzon-data");
    let run = start_first_run(&data, true).unwrap();
    let FirstRun {
        _guard,
        password,
        curl_line,
    } = run;
    assert!(
        curl_line.contains(&format!("pop3s://demo:{password}@127.0.0.1:1995/1")),
        "{curl_line}"
    );
    assert!(data.join("users").exists() && data.join("tls/cert.pem").exists());
    let users = std::fs::read_to_string(data.join("users")).unwrap_or_default();
    assert!(
        users.starts_with("demo:{ARGON2ID}$argon2id$"),
        "password stored hashed: {users}"
    );
    assert!(!users.contains(&password));

    let mut c = LineClient::connect("127.0.0.1:1110".parse().unwrap());
    assert!(c.line().starts_with("+OK"));
    c.login("demo", &password);
    assert!(c.cmd("STAT").starts_with("+OK 1 "));
    assert!(c.cmd("QUIT").starts_with("+OK"));

    // What `swaks --server 127.0.0.1:1025 --to demo@localhost` does.
    let mut smtp = buzon_testkit::SmtpClient::connect("127.0.0.1:1025".parse().unwrap());
    smtp.expect("EHLO first-run.test", 250);
    smtp.expect("MAIL FROM:<someone@example.org>", 250);
    smtp.expect("RCPT TO:<demo@localhost>", 250);
    assert_eq!(
        smtp.data(b"Subject: hello demo\r\n\r\nsent over SMTP\r\n", 1)[0].code,
        250
    );
    smtp.expect("QUIT", 221);
    let mut c = LineClient::connect("127.0.0.1:1110".parse().unwrap());
    assert!(c.line().starts_with("+OK"));
    c.login("demo", &password);
    assert!(
        c.cmd("STAT").starts_with("+OK 2 "),
        "the message sent over SMTP is there"
    );
    assert!(c.cmd("QUIT").starts_with("+OK"));

    let have_curl = Command::new("sh")
        .args(["-c", "command -v curl"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if have_curl {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "20",
                "-k",
                &format!("pop3s://demo:{password}@127.0.0.1:1995/1"),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Subject: Welcome to Buzon"), "{text}");
    } else if std::env::var("BUZON_INTEROP").as_deref() == Ok("1") {
        panic!("curl is required (BUZON_INTEROP=1)");
    } else {
        buzon_testkit::skip("curl is not installed: the printed curl command was not tried");
    }
}

fn buzon(args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .env("LC_ALL", "C") // messages are read in English, whatever the locale
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that never reads its stdin may have exited already: a broken pipe is
    // not the test's failure (its exit code and output are checked below).
    if let Err(e) = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
    {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn user_commands_hash_passwords_read_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_string_lossy().to_string();
    let (code, out, err) = buzon(&["user", "add", "bob", "--data-dir", &d], "correct horse\n");
    assert_eq!(code, 0, "{out}{err}");
    let file = std::fs::read_to_string(dir.path().join("users")).unwrap_or_default();
    assert!(
        file.starts_with("bob:{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$"),
        "{file}"
    );
    assert!(!file.contains("correct horse"));
    assert!(first_user_has_password(&file, b"correct horse"), "{file}");
    let (code, _, err) = buzon(&["user", "add", "bob", "--data-dir", &d], "x\n");
    assert_eq!(code, 1);
    assert!(
        err.starts_with("buzon: ") && err.lines().count() == 1,
        "{err}"
    );
    let (code, out, _) = buzon(&["user", "list", "--data-dir", &d], "");
    assert_eq!((code, out.trim()), (0, "bob\tARGON2ID"));
    let (code, _, _) = buzon(
        &["user", "passwd", "bob", "--data-dir", &d],
        "battery staple\n",
    );
    assert_eq!(code, 0);
    let file = std::fs::read_to_string(dir.path().join("users")).unwrap_or_default();
    assert!(first_user_has_password(&file, b"battery staple"), "{file}");
    let (code, _, err) = buzon(&["user", "add", "../evil", "--data-dir", &d], "x\n");
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = buzon(&["user", "del", "bob", "--data-dir", &d], "");
    assert_eq!(code, 0);
    let (_, out, _) = buzon(&["user", "list", "--data-dir", &d], "");
    assert!(out.trim().is_empty());
}

#[test]
fn a_malformed_config_is_one_line_naming_key_line_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[limits]\nmax_connections = 10\nidle_timeout = \"forever\"\n",
    )
    .unwrap();
    let (code, _, err) = buzon(&["serve", "--config", &cfg.to_string_lossy()], "");
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("line 3") && err.contains("limits.idle_timeout") && err.contains("e.g."),
        "{err}"
    );
    let (code, _, err) = buzon(&["check-config", &cfg.to_string_lossy()], "");
    assert_eq!(code, 2, "{err}");
    std::fs::write(&cfg, "[limits\n").unwrap();
    let (code, _, err) = buzon(&["serve", "--config", &cfg.to_string_lossy()], "");
    assert_eq!(code, 2);
    assert!(err.contains("bad.toml") && err.contains("line 1"), "{err}");
    let (code, _, err) = buzon(&["serve", "--config", "/nonexistent/buzon.toml"], "");
    assert_eq!(code, 2);
    assert!(err.contains("cannot read config file"), "{err}");
}

#[test]
fn check_config_lists_listeners_by_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("buzon.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{}\"\n\n[[listen]]\naddress = \"127.0.0.1:1110\"\nprotocol = \"pop3\"\n\n\
             [[listen]]\naddress = \"127.0.0.1:1995\"\nprotocol = \"pop3s\"\n\n\
             [[listen]]\naddress = \"unix:{}\"\nprotocol = \"lmtp\"\n",
            data.display(),
            dir.path().join("lmtp").display()
        ),
    )
    .unwrap();
    let (code, out, err) = buzon(&["check-config", &cfg.to_string_lossy()], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("127.0.0.1:1110 (POP3 with STLS)"), "{out}");
    assert!(out.contains("127.0.0.1:1995 (POP3S)"), "{out}");
    assert!(out.contains("(LMTP, mode "), "{out}");
    assert!(!out.contains("Pop3"), "a Debug rendering in {out}");
}
