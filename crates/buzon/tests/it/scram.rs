//! SCRAM-SHA-256 and SCRAM-SHA-256-PLUS on the real `buzon serve`, with passwords stored
//! as `{SCRAM-SHA-256}` verifiers (`auth.password_scheme`): CAPA on each kind of
//! connection, `buzon check` (Buzón's own client, which picks -PLUS over TLS 1.3), mpop
//! (GNU SASL's SCRAM-SHA-256), USER/PASS for the same users, Argon2id users beside them,
//! and two-step verification refusing a SCRAM login with the main password.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use buzon_testkit::process::{write_config, BuzonProcess};
use buzon_testkit::{run_bounded, LineClient, TestCa};

use crate::interop_clients::have;
use crate::BIN;

const LIMIT: Duration = Duration::from_secs(60);

struct Env {
    dir: tempfile::TempDir,
    config: PathBuf,
    ca: TestCa,
    ca_file: PathBuf,
    proc: BuzonProcess,
}

fn start() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    // Appended to the [auth] section of the test config.
    let config = write_config(dir.path(), &ca, "password_scheme = \"SCRAM-SHA-256\"\n");
    let ca_file = dir.path().join("ca.pem");
    ca.write_pem(&ca_file);
    let data = dir.path().join("data");
    let run = |args: &[&str], stdin: &str| {
        let out = run_bounded(
            Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "printf '%s\\n' \"$PW\" | {BIN} {} --config {}",
                    args.join(" "),
                    config.display()
                ))
                .env("PW", stdin),
            LIMIT,
        );
        assert!(out.status.success(), "{out:?}");
    };
    run(&["user", "add", "alice"], "pencil");
    // bob keeps an Argon2id password from before the switch.
    let stored = buzon_auth::hash_password(b"bob pw", &buzon_auth::HashParams::fast_for_tests());
    buzon_auth::add_user(&data.join("users"), "bob", &stored).unwrap();
    let md = buzon_store::Maildir::create(data.join("mail").join("alice")).unwrap();
    md.deliver(&mut &b"Subject: scram\n\nok\n"[..], None)
        .unwrap();
    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    Env {
        dir,
        config,
        ca,
        ca_file,
        proc,
    }
}

/// `buzon check` of a one-off account on POP3S: (success, output).
fn check(e: &Env, user: &str, password: &str, auth: &str) -> (bool, String) {
    let out = run_bounded(
        Command::new(BIN)
            .args(["check", "--host", "localhost", "--port"])
            .arg(e.proc.addr("POP3S").port().to_string())
            .args(["--security", "tls", "--user", user, "--auth", auth])
            .args(["--password-env", "PW", "--ca-file"])
            .arg(&e.ca_file)
            .env("PW", password)
            .env("LC_ALL", "C"),
        LIMIT,
    );
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The mechanism of the last session of `user` that ended, from the server's log.
fn last_mechanism(e: &Env, user: &str) -> Option<String> {
    crate::interop_clients::session_mechanism(&e.proc, user)
}

#[test]
fn scram_and_scram_plus_log_in_from_buzon_and_mpop_and_the_main_password_still_works() {
    let e = start();
    let users = std::fs::read_to_string(e.dir.path().join("data/users")).unwrap();
    assert!(users.contains("alice:{SCRAM-SHA-256}4096,"), "{users}");

    // CAPA: -PLUS only over TLS (1.3, with its exporter); SCRAM where PLAIN is.
    let mut c = LineClient::connect(e.proc.addr("POP3"));
    assert!(c.line().starts_with("+OK"));
    c.send("CAPA");
    let mut capa = Vec::new();
    loop {
        let l = c.line();
        if l == "." {
            break;
        }
        capa.push(l);
    }
    assert!(
        capa.contains(&"SASL PLAIN LOGIN SCRAM-SHA-256".to_string()),
        "{capa:?}"
    );
    // USER/PASS works for a SCRAM user too (the verifier checks a password).
    let _ = c.cmd("QUIT");
    let mut c = LineClient::connect(e.proc.addr("POP3"));
    assert!(c.line().starts_with("+OK"));
    c.login("alice", "pencil");
    let _ = c.cmd("QUIT");

    // Buzón's client over POP3S picks SCRAM-SHA-256-PLUS (TLS 1.3: tls-exporter).
    let (ok, out) = check(&e, "alice", "pencil", "auto");
    assert!(ok, "{out}");
    assert_eq!(
        last_mechanism(&e, "alice").as_deref(),
        Some("SCRAM-SHA-256-PLUS"),
        "{:?}",
        e.proc.log()
    );
    let (ok, out) = check(&e, "alice", "pencil!", "scram-sha-256");
    assert!(!ok, "{out}");
    assert!(out.contains("Authentication failed"), "{out}");

    // bob's Argon2id password cannot do SCRAM (the server has no verifier for him); the
    // made-up salt makes the exchange look like anyone else's, and it fails as a wrong
    // password would. PLAIN works.
    let (ok, out) = check(&e, "bob", "bob pw", "scram-sha-256");
    assert!(!ok, "{out}");
    let (ok, out) = check(&e, "bob", "bob pw", "plain");
    assert!(ok, "{out}");

    if have("mpop") {
        let (o, maildir) = crate::interop_clients::mpop_run(
            e.dir.path(),
            e.proc.addr("POP3S").port(),
            &e.ca_file,
            "keep on\nuser alice\npassword pencil\nauth scram-sha-256",
        );
        assert!(o.status.success(), "mpop with SCRAM-SHA-256: {o:?}");
        let got = std::fs::read_dir(maildir.join("new")).unwrap().count();
        assert_eq!(got, 1, "mpop fetched {got} messages");
        let m = last_mechanism(&e, "alice").unwrap_or_default();
        assert!(m.starts_with("SCRAM-SHA-256"), "{m}");
    }

    // Two-step verification on: a SCRAM login with the main password gets the text that
    // says what to use instead.
    let out = run_bounded(
        Command::new(BIN)
            .args(["user", "app-password", "add", "alice", "laptop", "--config"])
            .arg(&e.config),
        LIMIT,
    );
    assert!(out.status.success(), "{out:?}");
    let users_file = e.dir.path().join("data/users");
    buzon_auth::set_extra_field(
        &users_file,
        "alice",
        buzon_auth::TWO_STEP_FIELD,
        Some("totp"),
    )
    .unwrap();
    let refused = buzon_testkit::wait::poll(Duration::from_secs(5), || {
        let (ok, out) = check(&e, "alice", "pencil", "scram-sha-256");
        (!ok && out.contains("two-step verification")).then_some(out)
    });
    assert!(
        refused.is_some(),
        "SCRAM with the main password still accepted"
    );
}

/// A relay that terminates TLS between client and server, as a man in the middle with a
/// certificate the client trusts would: two TLS sessions, bytes copied between them.
fn tls_relay(ca: &TestCa, dir: &Path, upstream: std::net::SocketAddr) -> std::net::SocketAddr {
    use rustls_pki_types::pem::PemObject;
    let cert = ca.issue(dir, &["localhost"], (-1, 30));
    let chain = rustls_pki_types::CertificateDer::pem_file_iter(&cert.cert_path)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(&cert.key_path).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server));
    let connector = tokio_rustls::TlsConnector::from(ca.client_config());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, connector) = (acceptor.clone(), connector.clone());
                tokio::spawn(async move {
                    let Ok(mut inner) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(out) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
                    let Ok(mut outer) = connector.connect(name, out).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut inner, &mut outer).await;
                });
            }
        });
    });
    addr
}

#[test]
fn scram_plus_through_a_tls_terminating_relay_fails_and_works_directly() {
    let e = start();
    let relay = tls_relay(&e.ca, e.dir.path(), e.proc.addr("POP3S"));
    let through = |auth: &str| {
        let out = run_bounded(
            Command::new(BIN)
                .args(["check", "--host", "localhost", "--port"])
                .arg(relay.port().to_string())
                .args(["--security", "tls", "--user", "alice", "--auth", auth])
                .args(["--password-env", "PW", "--ca-file"])
                .arg(&e.ca_file)
                .env("PW", "pencil")
                .env("LC_ALL", "C"),
            LIMIT,
        );
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    // The client sees -PLUS offered (the relay passes CAPA on) and binds to its own TLS
    // session with the relay; the server's session is another: refused.
    let (ok, out) = through("scram-sha-256");
    assert!(
        !ok,
        "SCRAM-SHA-256-PLUS went through a TLS-terminating relay: {out}"
    );
    assert!(out.contains("Authentication failed"), "{out}");
    // Directly, the same login works.
    let (ok, out) = check(&e, "alice", "pencil", "scram-sha-256");
    assert!(ok, "{out}");
    assert_eq!(
        last_mechanism(&e, "alice").as_deref(),
        Some("SCRAM-SHA-256-PLUS")
    );
}
