//! No user-facing message shows a Rust `Debug` rendering: the real binary is run through
//! the classic failure cases of the client (`buzon check` / `buzon fetch`: wrong port,
//! TLS spoken to a plain port and the reverse, certificates that are not acceptable,
//! broken accounts files, unknown hosts) and of the server (`buzon serve` with broken
//! configurations, a missing certificate, a port in use), and everything it prints is
//! searched for the shapes `Debug` output takes (`Other(`, `Error {`, `Kind(`, `Os {`).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use buzon_testkit::{TestCa, TestDns, TestServer};

use crate::BIN;

/// Shapes of Rust `Debug` output that must never reach a user.
const DEBUG_SHAPES: &[&str] = &[
    "Other(",
    "OtherError",
    "Error {",
    "Kind(",
    "Os {",
    "Custom {",
    "kind: ",
    "DnsName(",
    "Some(",
];

/// Runs the binary with a deadline; returns (exit code, stdout + stderr).
fn buzon(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent-buzon-test")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn");
    if buzon_testkit::poll(Duration::from_secs(60), || child.try_wait().ok().flatten()).is_none() {
        let _ = child.kill();
        panic!("buzon {args:?} did not finish within 60 s");
    }
    let out = child.wait_with_output().expect("wait");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn assert_no_debug(case: &str, text: &str) {
    for shape in DEBUG_SHAPES {
        assert!(
            !text.contains(shape),
            "{case}: the output shows a Rust Debug rendering ({shape}):\n{text}"
        );
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().map(|a| a.port()).unwrap_or(1)
}

fn openssl_ca_true(dir: &Path) -> bool {
    Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "30", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .arg("-keyout")
        .arg(dir.join("ss.key"))
        .arg("-out")
        .arg(dir.join("ss.crt"))
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn client_failures_are_explained_without_debug_renderings() {
    let s = TestServer::builder().user("alice", "pw").start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ca_file = dir.join("ca.pem");
    s.ca.write_pem(&ca_file);
    let other_ca = dir.join("other-ca.pem");
    TestCa::new().write_pem(&other_ca);
    let not_pem = dir.join("not.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    let ledger = dir.join("ledger");
    let md = dir.join("Maildir");
    let dns = TestDns::start(vec![]);
    let dns_addr = dns.addr.to_string();
    let (pop3, pop3s, closed) = (
        s.pop3.port().to_string(),
        s.pop3s.port().to_string(),
        free_port().to_string(),
    );
    let ca = ca_file.to_str().unwrap_or_default();
    let other = other_ca.to_str().unwrap_or_default();
    let notpem = not_pem.to_str().unwrap_or_default();
    let ledger = ledger.to_str().unwrap_or_default();
    let md = md.to_str().unwrap_or_default();
    let base = |port: &str, security: &str, ca: &str| -> Vec<String> {
        [
            "--host",
            "localhost",
            "--port",
            port,
            "--security",
            security,
            "--user",
            "alice",
            "--password-env",
            "PW",
            "--ca-file",
            ca,
            "--ledger-dir",
            ledger,
            "--maildir",
            md,
            "--timeout",
            "3s",
            "--connect-timeout",
            "3s",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let mut cases: Vec<(&str, Vec<String>)> = vec![
        ("wrong port", base(&closed, "tls", ca)),
        ("TLS to the plain port", base(&pop3, "tls", ca)),
        ("plain to the TLS port", base(&pop3s, "starttls", ca)),
        ("unknown CA", base(&pop3s, "tls", other)),
        ("ca_file not PEM", base(&pop3s, "tls", notpem)),
        (
            "ca_file missing",
            base(&pop3s, "tls", "/nonexistent/ca.pem"),
        ),
    ];
    let mut unknown = base(&pop3s, "tls", ca);
    unknown[1] = "nowhere.example.test".into();
    unknown.extend(["--dns-server".to_string(), dns_addr.clone()]);
    cases.push(("unknown host", unknown));
    let mut wrong_pw = base(&pop3s, "tls", ca);
    wrong_pw[7] = "nobody".into();
    cases.push(("wrong user", wrong_pw));

    // A server presenting a CA:TRUE certificate (openssl req -x509) that is not trusted.
    let _ss_server = if openssl_ca_true(dir) {
        let (cert, key) = (dir.join("ss.crt"), dir.join("ss.key"));
        let ss = TestServer::builder()
            .user("alice", "pw")
            .config(move |c| {
                c.tls = buzon_server::config::TlsSource::Files {
                    certificate: cert,
                    key,
                }
            })
            .start();
        cases.push((
            "CA:TRUE certificate, other ca_file",
            base(&ss.pop3s.port().to_string(), "tls", ca),
        ));
        Some(ss)
    } else {
        buzon_testkit::skip("openssl is not usable: the CA:TRUE case was not run");
        None
    };

    for (case, args) in &cases {
        for cmd in ["check", "fetch"] {
            let mut a = vec![cmd];
            a.extend(args.iter().map(String::as_str));
            let (code, text) = buzon(&a, &[("PW", "pw")]);
            assert_ne!(code, 0, "{case}: {cmd} should fail:\n{text}");
            assert!(!text.trim().is_empty(), "{case}: {cmd} printed nothing");
            assert_no_debug(&format!("{case} ({cmd})"), &text);
        }
    }

    // Broken accounts files.
    for (case, toml) in [
        ("unknown key", "[accounts.a]\nhots = \"x\"\n"),
        ("not TOML", "[accounts.a\nhost = \n"),
        (
            "missing host",
            "[accounts.a]\nuser = \"me\"\nmaildir = \"/tmp/x\"\n",
        ),
        (
            "bad duration",
            "[accounts.a]\nhost = \"h\"\nuser = \"u\"\nmaildir = \"/tmp/x\"\ntimeout = \"soon\"\n",
        ),
        (
            "two destinations",
            "[accounts.a]\nhost = \"h\"\nuser = \"u\"\nmaildir = \"/tmp/x\"\nmbox = \"/tmp/y\"\n",
        ),
    ] {
        let path = dir.join("accounts.toml");
        std::fs::write(&path, toml).unwrap();
        let p = path.to_str().unwrap_or_default();
        for cmd in ["check", "fetch"] {
            let (code, text) = buzon(&[cmd, "--config", p, "a"], &[]);
            assert_eq!(code, 2, "{case} ({cmd}): {text}");
            assert_no_debug(&format!("{case} ({cmd})"), &text);
        }
    }
}

#[test]
fn server_failures_are_explained_without_debug_renderings() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ca = TestCa::new();
    let good = buzon_testkit::process::write_config(dir, &ca, "");
    let good_text = std::fs::read_to_string(&good).unwrap_or_default();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let cases: Vec<(&str, String)> = vec![
        (
            "unknown key",
            format!("{good_text}\nlisten_everywhere = true\n"),
        ),
        ("not TOML", "data_dir = \n[[listen]\n".to_string()),
        (
            "missing certificate",
            good_text.replace(".crt.pem", ".missing.pem"),
        ),
        (
            "port in use",
            good_text.replacen("127.0.0.1:0", &busy_addr, 1),
        ),
        (
            "bad protocol",
            good_text.replacen("\"pop3\"", "\"pop4\"", 1),
        ),
    ];
    for (case, text) in cases {
        let path = dir.join("bad.toml");
        std::fs::write(&path, &text).unwrap();
        let (code, out) = buzon(
            &["serve", "--config", path.to_str().unwrap_or_default()],
            &[],
        );
        assert_ne!(code, 0, "{case}: serve should refuse:\n{out}");
        assert!(!out.trim().is_empty(), "{case}: serve printed nothing");
        assert_no_debug(case, &out);
    }
    drop(busy);
}
