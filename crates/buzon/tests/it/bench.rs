//! `buzon bench` against a real server on loopback: every scenario, over plain TCP, STLS
//! and implicit TLS, runs briefly and must finish operations without errors. Correctness
//! only — how fast is for the benchmarks, never for tests.

use std::collections::HashMap;
use std::process::Command;

use buzon_testkit::TestServer;

use crate::BIN;
const USERS: [&str; 4] = ["bench1", "bench2", "bench3", "bench4"];

fn server() -> TestServer {
    server_with(|_| {})
}

fn server_with(tweak: impl FnOnce(&mut buzon_server::Config) + Send + 'static) -> TestServer {
    let mut b = TestServer::builder().config(tweak);
    for u in USERS {
        b = b.user(u, "pw bench");
    }
    let s = b.start();
    for u in USERS {
        for i in 0..5 {
            let body = format!(
                "Subject: m{i}\n\n.leading dot\nline\n{}\n",
                "x".repeat(i * 700)
            );
            s.deliver(u, body.as_bytes());
        }
    }
    s
}

/// Runs `buzon bench <args>` with JSON output and returns the report's top-level fields.
fn bench(args: &[&str]) -> HashMap<String, String> {
    let out = Command::new(BIN)
        .arg("bench")
        .args(args)
        .args([
            "--format",
            "json",
            "--password",
            "pw bench",
            "--timeout",
            "10",
            "--threads",
            "1",
        ])
        .output()
        .expect("run buzon bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "buzon bench {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.lines().last().unwrap_or_default();
    fields(line)
}

/// The scalar fields of a one-line JSON object (nested objects are kept as raw text).
fn fields(json: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let body = json.trim().trim_start_matches('{').trim_end_matches('}');
    let mut depth = 0;
    let mut start = 0;
    let mut parts = Vec::new();
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    for p in parts {
        if let Some((k, v)) = p.split_once(':') {
            map.insert(
                k.trim_matches('"').to_string(),
                v.trim_matches('"').to_string(),
            );
        }
    }
    map
}

fn num(r: &HashMap<String, String>, key: &str) -> f64 {
    r.get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number {key} in {r:?}"))
}

fn assert_clean(r: &HashMap<String, String>) {
    assert_eq!(num(r, "errors"), 0.0, "{r:?}");
    assert!(num(r, "ops") > 0.0, "{r:?}");
}

#[test]
fn every_scenario_runs_over_plain_stls_and_tls() {
    let s = server();
    let ca = s.data_dir().join("ca.pem");
    s.ca.write_pem(&ca);
    let ca = ca.to_string_lossy().into_owned();
    let plain = s.pop3.to_string();
    let tls = s.pop3s.to_string();
    let users = "bench{1..4}";

    for (target, security) in [(&plain, "none"), (&plain, "starttls"), (&tls, "tls")] {
        let common = [
            "--target",
            target,
            "--security",
            security,
            "--ca",
            &ca,
            "--users",
            users,
            "--clients",
            "2",
            "--duration",
            "1",
            "--count",
            "12",
        ];
        let r = bench(&[&["login"][..], &common].concat());
        assert_clean(&r);
        assert_eq!(r.get("scenario").map(String::as_str), Some("login"));
        assert_eq!(r.get("security").map(String::as_str), Some(security));

        // RETR checks every body against its LIST size; an error would show here.
        let r = bench(&[&["retr"][..], &common, &["--pipeline", "3"]].concat());
        assert_clean(&r);
        assert!(num(&r, "bytes") > 0.0, "{r:?}");
    }

    let common = ["--target", &plain, "--users", users, "--duration", "2"];
    let r = bench(
        &[
            &["retr", "--top", "0", "--clients", "2", "--count", "20"][..],
            &common,
        ]
        .concat(),
    );
    assert_clean(&r);
    assert_eq!(r.get("scenario").map(String::as_str), Some("top"));

    let r = bench(
        &[
            &[
                "retr",
                "--mailbox-per-session",
                "--clients",
                "1",
                "--count",
                "10",
            ][..],
            &common,
        ]
        .concat(),
    );
    assert_clean(&r);
    assert_eq!(num(&r, "ops"), 10.0, "{r:?}");

    let pid = std::process::id().to_string();
    let r = bench(
        &[
            &[
                "idle",
                "--warm",
                "--sessions",
                "4",
                "--hold",
                "0.2",
                "--server-pid",
                &pid,
            ][..],
            &common,
        ]
        .concat(),
    );
    assert_clean(&r);
    assert_eq!(num(&r, "ops"), 4.0, "{r:?}");
    assert!(
        r.get("extra")
            .is_some_and(|e| e.contains("pss_per_session_kib")),
        "{r:?}"
    );

    let r = bench(
        &[
            &["bigbox", "--rounds", "2", "--users", "bench1"][..],
            &common[..2],
        ]
        .concat(),
    );
    assert_clean(&r);
    assert!(
        r.get("extra")
            .is_some_and(|e| e.contains("round2_ms") && e.contains("\"messages\":5.000")),
        "{r:?}"
    );
}

#[test]
fn deliver_hands_messages_over_lmtp_and_they_arrive() {
    // A free port for the LMTP listener (the test server only reports its POP3 ports).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let lmtp: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let s = server_with(move |c| {
        c.listeners.push(buzon_server::config::Listener::new(
            lmtp,
            buzon_server::Protocol::Lmtp,
        ))
    });
    let before: usize = USERS.iter().map(|u| s.message_files(u).len()).sum();
    let r = bench(&[
        "deliver",
        "--target",
        &lmtp.to_string(),
        "--users",
        "bench{1..4}",
        "--clients",
        "2",
        "--count",
        "12",
        "--size",
        "3000",
        "--duration",
        "10",
    ]);
    assert_clean(&r);
    assert_eq!(num(&r, "ops"), 12.0, "{r:?}");
    let after: usize = USERS.iter().map(|u| s.message_files(u).len()).sum();
    assert_eq!(
        after - before,
        12,
        "every acknowledged delivery is in a Maildir"
    );
}

#[test]
fn refuses_remote_targets_and_reports_failures() {
    let out = Command::new(BIN)
        .args([
            "bench",
            "login",
            "--target",
            "192.0.2.1:110",
            "--duration",
            "1",
        ])
        .output();
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"));

    // Wrong password: every login is refused, the run says so and fails.
    let s = server();
    let out = Command::new(BIN)
        .args([
            "bench",
            "login",
            "--target",
            &s.pop3.to_string(),
            "--users",
            "bench1",
            "--password",
            "wrong",
            "--clients",
            "1",
            "--count",
            "1",
            "--duration",
            "5",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("refused: PASS"), "{stdout}");
}
