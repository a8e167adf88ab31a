//! Prometheus metrics from the outside: after POP3 logins (good and bad), a RETR, a
//! deletion and an LMTP delivery, `/metrics` shows the counts, and a real Prometheus (the
//! Debian package, started here on loopback with a scrape interval of one second) scrapes
//! them and answers queries with the same values.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use buzon_testkit::process::{write_config, BuzonProcess};
use buzon_testkit::{run_bounded, LineClient, SmtpClient, TestCa};

use crate::BIN;

const LIMIT: Duration = Duration::from_secs(30);

fn curl(url: &str) -> String {
    let out = run_bounded(
        Command::new("curl").args(["-sS", "--max-time", "10", url]),
        LIMIT,
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of the sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

#[test]
fn metrics_count_logins_retrievals_deletions_and_deliveries_and_prometheus_scrapes_them() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let config = write_config(
        dir.path(),
        &ca,
        "\n[[listen]]\naddress = \"127.0.0.1:0\"\nprotocol = \"lmtp\"\n\n[[listen]]\naddress = \"127.0.0.1:0\"\nprotocol = \"metrics\"\n",
    );
    let data = dir.path().join("data");
    let stored = buzon_auth::hash_password(b"pw", &buzon_auth::HashParams::fast_for_tests());
    buzon_auth::add_user(&data.join("users"), "alice", &stored).unwrap();
    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    let metrics_url = format!("http://{}/metrics", proc.addr("Prometheus"));

    // One delivery over LMTP.
    let mut s = SmtpClient::connect(proc.addr("LMTP"));
    s.expect("LHLO client.example", 250);
    s.expect("MAIL FROM:<s@remote.example>", 250);
    s.expect("RCPT TO:<alice@localhost>", 250);
    let replies = s.data(b"Subject: counted\r\n\r\nbody\r\n", 1);
    assert_eq!(replies[0].code, 250);
    s.expect("QUIT", 221);
    // A failed login, then two good ones: one retrieves, the other deletes.
    let mut c = LineClient::connect(proc.addr("POP3"));
    assert!(c.line().starts_with("+OK"));
    assert!(c.cmd("USER alice").starts_with("+OK"));
    assert!(c.cmd("PASS wrong").starts_with("-ERR"));
    drop(c);
    let mut c = LineClient::connect(proc.addr("POP3"));
    assert!(c.line().starts_with("+OK"));
    c.login("alice", "pw");
    assert!(c.cmd("RETR 1").starts_with("+OK"));
    c.body();
    assert!(c.cmd("QUIT").starts_with("+OK"));
    let mut c = LineClient::connect(proc.addr("POP3"));
    assert!(c.line().starts_with("+OK"));
    c.login("alice", "pw");
    assert!(c.cmd("DELE 1").starts_with("+OK"));
    assert!(c.cmd("QUIT").starts_with("+OK"));

    let text = buzon_testkit::wait_for(Duration::from_secs(10), "the last session counted", || {
        let t = curl(&metrics_url);
        (sample(&t, "buzon_pop3_deleted_messages_total") == Some(1.0)).then_some(t)
    });
    eprintln!(
        "metrics excerpt:\n{}",
        text.lines()
            .filter(|l| l.starts_with("buzon_pop3_logins")
                || l.starts_with("buzon_deliveries")
                || l.starts_with("buzon_pop3_retrieved")
                || l.starts_with("buzon_build_info"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    for (series, want) in [
        (
            "buzon_pop3_logins_total{mechanism=\"USER\",result=\"success\"}",
            2.0,
        ),
        (
            "buzon_pop3_logins_total{mechanism=\"USER\",result=\"failure\"}",
            1.0,
        ),
        ("buzon_pop3_retrieved_messages_total", 1.0),
        ("buzon_pop3_deleted_messages_total", 1.0),
        (
            "buzon_deliveries_total{protocol=\"lmtp\",result=\"delivered\"}",
            1.0,
        ),
        ("buzon_delivery_duration_seconds_count", 1.0),
        ("buzon_pop3_commands_total{command=\"RETR\"}", 1.0),
        ("buzon_pop3_sessions_open{listener=\"pop3\"}", 0.0),
        (
            "buzon_intake_sessions_total{listener=\"lmtp\",tls=\"none\",end=\"quit\"}",
            1.0,
        ),
        ("buzon_intake_sessions_open{listener=\"lmtp\"}", 0.0),
    ] {
        assert_eq!(sample(&text, series), Some(want), "{series} in\n{text}");
    }
    assert!(text.contains("buzon_build_info{version=\""), "{text}");
    let expiry = sample(&text, "buzon_tls_certificate_expiry_timestamp_seconds").unwrap_or(0.0);
    assert!(expiry > 1.7e9, "{text}");

    // A real Prometheus scrapes the endpoint.
    let have = Command::new("prometheus").arg("--version").output().is_ok();
    if !have {
        if std::env::var("BUZON_INTEROP").as_deref() == Ok("1") {
            panic!("prometheus is required (BUZON_INTEROP=1); install it (see .ci/apt-packages)");
        }
        buzon_testkit::skip("prometheus is not installed");
        return;
    }
    let port = free_port();
    let conf = dir.path().join("prometheus.yml");
    std::fs::write(
        &conf,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: buzon\n    static_configs:\n      - targets: ['{}']\n",
            proc.addr("Prometheus")
        ),
    )
    .unwrap();
    let _prom = Prometheus(
        Command::new("prometheus")
            .arg(format!("--config.file={}", conf.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let query = |q: &str| {
        curl(&format!(
            "http://127.0.0.1:{port}/api/v1/query?query={}",
            q.replace('{', "%7B")
                .replace('}', "%7D")
                .replace('"', "%22")
                .replace('=', "%3D")
                .replace(',', "%2C")
        ))
    };
    let answer = buzon_testkit::wait_for(
        Duration::from_secs(60),
        "Prometheus to scrape the logins",
        || {
            let a = query("buzon_pop3_logins_total{result=\"success\"}");
            a.contains("\"value\":[").then_some(a)
        },
    );
    eprintln!("prometheus query result: {answer}");
    assert!(answer.contains("\"mechanism\":\"USER\""), "{answer}");
    assert!(answer.contains(",\"2\"]"), "{answer}");
    let up = query("up{job=\"buzon\"}");
    assert!(up.contains(",\"1\"]"), "{up}");
}

/// `buzon status` during open sessions: one logged in over POP3S, one not logged in
/// over POP3; the totals; the JSON form; and a clear error when no server answers.
#[test]
fn buzon_status_lists_open_sessions_and_totals() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let config = write_config(dir.path(), &ca, "");
    let data = dir.path().join("data");
    let stored = buzon_auth::hash_password(b"pw", &buzon_auth::HashParams::fast_for_tests());
    buzon_auth::add_user(&data.join("users"), "alice", &stored).unwrap();
    let mut proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    let tls = ca.client_config();
    let mut a = LineClient::connect_tls(proc.addr("POP3S"), tls, "localhost");
    assert!(a.line().starts_with("+OK"));
    a.login("alice", "pw");
    let mut b = LineClient::connect(proc.addr("POP3"));
    assert!(b.line().starts_with("+OK"));
    let status = |json: bool| {
        let mut c = Command::new(BIN);
        c.args(["status", "--config"])
            .arg(&config)
            .env("LC_ALL", "C");
        if json {
            c.arg("--json");
        }
        run_bounded(&mut c, LIMIT)
    };
    let out = status(false);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("buzon status:\n{text}");
    assert!(out.status.success(), "{text}");
    assert!(text.contains("POP3 sessions open: 2"), "{text}");
    let alice = text
        .lines()
        .find(|l| l.trim_start().starts_with("alice"))
        .unwrap_or_else(|| panic!("no alice line in\n{text}"));
    assert!(
        alice.contains("pop3s") && alice.contains("TLSv1.3"),
        "{alice}"
    );
    assert!(text.contains("(not logged in)"), "{text}");
    assert!(text.contains("logins 1 ok, 0 failed"), "{text}");
    let json = String::from_utf8_lossy(&status(true).stdout).into_owned();
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["sessions"].as_array().map(Vec::len), Some(2), "{json}");
    drop((a, b));
    proc.kill();
    let out = status(false);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach the server at"), "{err}");
}

/// `log_format = "json"`: every log line is one JSON object, and the per-session line
/// carries the same fields as the text form.
#[test]
fn json_logs_have_one_object_per_line_with_the_session_fields() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let config = write_config(dir.path(), &ca, "");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("log_format = \"json\"\n{text}")).unwrap();
    let data = dir.path().join("data");
    let stored = buzon_auth::hash_password(b"pw", &buzon_auth::HashParams::fast_for_tests());
    buzon_auth::add_user(&data.join("users"), "alice", &stored).unwrap();
    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    let mut c = LineClient::connect(proc.addr("POP3"));
    assert!(c.line().starts_with("+OK"));
    c.login("alice", "pw");
    assert!(c.cmd("QUIT").starts_with("+OK"));
    let line = buzon_testkit::wait_for(Duration::from_secs(10), "the session line", || {
        proc.log()
            .into_iter()
            .find(|l| l.contains("pop3 session ended"))
    });
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert_eq!(v["user"], "alice", "{line}");
    assert_eq!(v["end"], "quit", "{line}");
    assert_eq!(v["message"], "pop3 session ended", "{line}");
    assert_eq!(v["level"], "INFO", "{line}");
    for l in proc.log() {
        assert!(
            serde_json::from_str::<serde_json::Value>(&l).is_ok(),
            "a log line is not JSON: {l}"
        );
    }
}
