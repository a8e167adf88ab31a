//! The README's first command: `buzon serve` with no config file must come up on the
//! embedded default (loopback, ports 1110/1995, a data folder it creates), create the
//! `demo` user with a password printed once and a welcome message, and let
//! `curl -k pop3s://demo:PASSWORD@127.0.0.1:1995/1` download it straight away.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use buzon_testkit::LineClient;

const BIN: &str = env!("CARGO_BIN_EXE_buzon");

struct Killer(std::process::Child);
impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn zero_config_first_run_serves_the_demo_user() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("buzon-data");
    let mut child = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(&data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("stdout"));
    let _guard = Killer(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut password = None;
    let mut curl_line = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else { continue };
        if let Some(p) = line.split("with password ").nth(1) {
            password = Some(p.trim().to_string());
        }
        if line.contains("curl -k pop3s://demo:") {
            curl_line = Some(line.clone());
        }
        if line.contains("TLS certificate SHA-256") {
            break;
        }
    }
    let password = password.unwrap_or_else(|| panic!("no demo password printed"));
    let curl_line = curl_line.unwrap_or_else(|| panic!("no curl hint printed"));
    assert!(curl_line.contains(&format!("pop3s://demo:{password}@127.0.0.1:1995/1")), "{curl_line}");
    assert!(data.join("users").exists() && data.join("tls/cert.pem").exists());
    let users = std::fs::read_to_string(data.join("users")).unwrap_or_default();
    assert!(users.starts_with("demo:{ARGON2ID}$argon2id$"), "password stored hashed: {users}");
    assert!(!users.contains(&password));

    let mut c = LineClient::connect("127.0.0.1:1110".parse().unwrap_or_else(|_| panic!()));
    assert!(c.line().starts_with("+OK"));
    c.login("demo", &password);
    assert!(c.cmd("STAT").starts_with("+OK 1 "));
    assert!(c.cmd("QUIT").starts_with("+OK"));

    let have_curl = Command::new("sh").args(["-c", "command -v curl"]).output().map(|o| o.status.success()).unwrap_or(false);
    if have_curl {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "20", "-k", &format!("pop3s://demo:{password}@127.0.0.1:1995/1")])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Subject: Welcome to Buzon"), "{text}");
    } else if std::env::var("BUZON_INTEROP").as_deref() == Ok("1") {
        panic!("curl is required (BUZON_INTEROP=1)");
    }
}
