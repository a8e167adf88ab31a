//! Buzón nodes behind a real HAProxy (the Debian package), as docs/scale-out.md shows
//! them: TCP mode, PROXY protocol v2 to the nodes, health checks on the greetings. Two
//! `buzon serve` nodes share one data folder (the Maildir store, so on one machine): POP3
//! logins and LMTP deliveries through HAProxy reach a node, the node sees the real client
//! address, a killed node leaves the rotation and comes back when restarted. TLS
//! terminated at HAProxy (`send-proxy-v2-ssl`) makes a session count as TLS on the node.
//!
//! A node configured for the PostgreSQL store by a build that cannot open it refuses to
//! start rather than serve local Maildirs.
//!
//! Every wait is bounded; each test takes a few seconds (health checks every 200 ms).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use buzon_testkit::haproxy::{self, Bind, Check, Front, HaProxy};
use buzon_testkit::process::BuzonProcess;
use buzon_testkit::{LineClient, SmtpClient, TestCa};

use crate::BIN;

/// A node killed or restarted shows in HAProxy's statistics within this (fall 3 × 200 ms
/// or rise 2 × 200 ms, plus check timeouts, on a busy 2-core machine).
const HEALTH: Duration = Duration::from_secs(15);

/// A `buzon serve` node on fixed loopback ports (so a restarted node comes back where
/// HAProxy expects it), trusting PROXY headers from loopback.
struct Node {
    config: PathBuf,
    pop3: SocketAddr,
    pop3s: SocketAddr,
    lmtp: SocketAddr,
    proc: Option<BuzonProcess>,
}

/// The shared data folder, its users, and the CA of the nodes' (and HAProxy's)
/// certificate.
struct Cluster {
    dir: tempfile::TempDir,
    data: PathBuf,
    ca: TestCa,
    nodes: Vec<Node>,
}

impl Cluster {
    /// `n` nodes over one data folder with user alice (password "pw"); `extra` TOML is
    /// appended to every node's configuration.
    fn new(n: usize, extra: &str) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let ca = TestCa::new();
        let cert = ca.issue(
            &dir.path().join("tls"),
            &["localhost", "127.0.0.1"],
            (-1, 30),
        );
        let stored = buzon_auth::hash_password(b"pw", &buzon_auth::HashParams::fast_for_tests());
        buzon_auth::add_user(&data.join("users"), "alice", &stored).unwrap();
        let mut nodes = Vec::new();
        for i in 1..=n {
            let pop3 = SocketAddr::from(([127, 0, 0, 1], haproxy::free_port()));
            let pop3s = SocketAddr::from(([127, 0, 0, 1], haproxy::free_port()));
            let lmtp = SocketAddr::from(([127, 0, 0, 1], haproxy::free_port()));
            let text = format!(
                "data_dir = {data:?}\nhostname = \"node{i}.test.invalid\"\n\n\
                 [[listen]]\naddress = \"{pop3}\"\nprotocol = \"pop3\"\n\n\
                 [[listen]]\naddress = \"{pop3s}\"\nprotocol = \"pop3s\"\n\n\
                 [[listen]]\naddress = \"{lmtp}\"\nprotocol = \"lmtp\"\n\n\
                 [tls]\ncertificate = {:?}\nkey = {:?}\n\n\
                 [pop3]\ngreeting = \"node{i} ready\"\n\n\
                 [proxy]\ntrusted_networks = [\"127.0.0.1/32\"]\n\n\
                 [auth]\nargon2_memory_kib = 256\nargon2_iterations = 1\nfailure_delay = \"50ms\"\n{extra}\n",
                cert.cert_path, cert.key_path
            );
            let config = dir.path().join(format!("node{i}.toml"));
            std::fs::write(&config, text).unwrap();
            nodes.push(Node {
                config,
                pop3,
                pop3s,
                lmtp,
                proc: None,
            });
        }
        let mut c = Cluster {
            dir,
            data,
            ca,
            nodes,
        };
        for i in 0..n {
            c.start(i);
        }
        c
    }

    fn start(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let p = BuzonProcess::serve(Path::new(BIN), &node.config, &self.data);
        assert_eq!(p.addr("POP3"), node.pop3);
        node.proc = Some(p);
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut p) = self.nodes[i].proc.take() {
            p.kill();
        }
    }

    fn pop3_addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.pop3).collect()
    }

    fn pop3s_addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.pop3s).collect()
    }

    fn lmtp_addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.lmtp).collect()
    }

    /// The HAProxy certificate: the nodes' certificate and key in one PEM file.
    fn haproxy_pem(&self) -> PathBuf {
        let tls = self.dir.path().join("tls");
        haproxy::combined_pem(
            self.dir.path(),
            &tls.join("localhost.crt.pem"),
            &tls.join("localhost.key.pem"),
        )
    }

    /// Whether node `i`'s log has a line containing all of `needles`.
    fn logged(&self, i: usize, needles: &[&str]) -> bool {
        self.nodes[i].proc.as_ref().is_some_and(|p| {
            p.log()
                .iter()
                .any(|l| needles.iter().all(|n| l.contains(n)))
        })
    }
}

/// Connects through HAProxy and reads the greeting; gives the client and which node
/// answered (`node1`, `node2`), from the greeting.
fn greet(addr: SocketAddr) -> (LineClient, String) {
    let mut c = LineClient::connect(addr);
    let g = c.line();
    assert!(g.starts_with("+OK "), "greeting through haproxy: {g}");
    let node = g
        .split_whitespace()
        .find(|w| w.starts_with("node"))
        .unwrap_or_else(|| panic!("no node name in {g}"))
        .to_string();
    (c, node)
}

fn message(i: usize) -> Vec<u8> {
    format!(
        "From: s@remote.example\r\nSubject: through haproxy {i}\r\nMessage-ID: <{i}@remote.example>\r\n\r\nbody {i}\r\n"
    )
    .into_bytes()
}

fn lmtp_deliver(addr: SocketAddr, i: usize) {
    let mut s = SmtpClient::connect(addr);
    s.expect("LHLO client.example", 250);
    s.expect("MAIL FROM:<s@remote.example>", 250);
    s.expect("RCPT TO:<alice@localhost>", 250);
    let replies = s.data(&message(i), 1);
    assert_eq!(replies[0].code, 250, "{:?}", replies[0]);
    s.expect("QUIT", 221);
}

fn two_node_front(c: &Cluster) -> Option<HaProxy> {
    HaProxy::front(&[
        Front::new("pop3", Bind::Tcp, Check::Pop3, &c.pop3_addrs()),
        Front::new("lmtp", Bind::Tcp, Check::Greeting220, &c.lmtp_addrs()),
    ])
}

#[test]
fn logins_and_deliveries_through_haproxy_reach_both_nodes_with_the_real_client_address() {
    if !haproxy::available() {
        return;
    }
    let c = Cluster::new(2, "");
    let Some(h) = two_node_front(&c) else { return };
    for node in ["node1", "node2"] {
        h.wait_status("pop3_nodes", node, "UP", HEALTH);
        h.wait_status("lmtp_nodes", node, "UP", HEALTH);
    }
    // LMTP through HAProxy: two deliveries, one per node (round robin), both land.
    lmtp_deliver(h.addr("lmtp"), 1);
    lmtp_deliver(h.addr("lmtp"), 2);
    let delivered = buzon_testkit::maildir::messages(&c.data.join("mail/alice"));
    assert_eq!(delivered.len(), 2);
    for i in [1, 2] {
        let subject = format!("Subject: through haproxy {i}");
        assert!(
            delivered
                .iter()
                .any(|m| String::from_utf8_lossy(m).contains(&subject)),
            "message {i} not delivered"
        );
    }
    // POP3 through HAProxy: round robin over both nodes; each node logs the client's own
    // address and port, which only the PROXY header can tell it.
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (mut client, node) = greet(h.addr("pop3"));
        let me = client.local_addr().unwrap();
        client.login("alice", "pw");
        assert!(client.cmd("STAT").starts_with("+OK 2 "));
        assert!(client.cmd("QUIT").starts_with("+OK"));
        let i = if node == "node1" { 0 } else { 1 };
        let remote = format!("remote={me}");
        buzon_testkit::wait_until(
            Duration::from_secs(10),
            &format!("{node} to log the session of {me}"),
            || c.logged(i, &["pop3 session ended", &remote, "user=\"alice\""]),
        );
        seen.push(node);
    }
    assert!(
        seen.contains(&"node1".to_string()) && seen.contains(&"node2".to_string()),
        "round robin over both nodes: {seen:?}"
    );
    // The nodes share the mailbox lock: a second session, on whichever node, is refused
    // while the first lives.
    let (mut first, _) = greet(h.addr("pop3"));
    first.login("alice", "pw");
    let (mut second, _) = greet(h.addr("pop3"));
    second.send("USER alice");
    assert!(second.line().starts_with("+OK"));
    let r = second.cmd("PASS pw");
    assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
    assert!(first.cmd("QUIT").starts_with("+OK"));
}

#[test]
fn a_killed_node_leaves_the_rotation_and_returns_when_restarted() {
    if !haproxy::available() {
        return;
    }
    let mut c = Cluster::new(2, "");
    let Some(h) = two_node_front(&c) else { return };
    for node in ["node1", "node2"] {
        h.wait_status("pop3_nodes", node, "UP", HEALTH);
        h.wait_status("lmtp_nodes", node, "UP", HEALTH);
    }
    let started = std::time::Instant::now();
    c.kill(0);
    h.wait_status("pop3_nodes", "node1", "DOWN", HEALTH);
    h.wait_status("lmtp_nodes", "node1", "DOWN", HEALTH);
    let down_after = started.elapsed();
    // Every new connection now goes to node2, and works.
    for i in 0..6 {
        let (mut client, node) = greet(h.addr("pop3"));
        assert_eq!(node, "node2");
        client.login("alice", "pw");
        assert!(client.cmd("QUIT").starts_with("+OK"));
        lmtp_deliver(h.addr("lmtp"), i);
    }
    assert_eq!(
        buzon_testkit::maildir::messages(&c.data.join("mail/alice")).len(),
        6
    );
    // Restarted on its ports, node1 passes its checks and gets connections again.
    let restarted = std::time::Instant::now();
    c.start(0);
    h.wait_status("pop3_nodes", "node1", "UP", HEALTH);
    let up_after = restarted.elapsed();
    let back = buzon_testkit::wait_for(HEALTH, "a connection to reach node1 again", || {
        let (mut client, node) = greet(h.addr("pop3"));
        assert!(client.cmd("QUIT").starts_with("+OK"));
        (node == "node1").then_some(node)
    });
    assert_eq!(back, "node1");
    eprintln!(
        "haproxy: node1 marked DOWN {} ms after SIGKILL, UP {} ms after restart (checks every {})",
        down_after.as_millis(),
        up_after.as_millis(),
        haproxy::CHECK_INTER
    );
}

#[test]
fn tls_passed_through_haproxy_ends_on_the_node_with_the_real_client_address() {
    if !haproxy::available() {
        return;
    }
    let c = Cluster::new(2, "plaintext_networks = []\n");
    let Some(h) = HaProxy::front(&[Front::new(
        "pop3s",
        Bind::Tcp,
        Check::Pop3Tls,
        &c.pop3s_addrs(),
    )]) else {
        return;
    };
    for node in ["node1", "node2"] {
        h.wait_status("pop3s_nodes", node, "UP", HEALTH);
    }
    // The client verifies the node's certificate through HAProxy (TCP mode passes the
    // TLS bytes untouched) and logs in; the node logs the client's address and TLS.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let mut tls = LineClient::connect_tls(h.addr("pop3s"), c.ca.client_config(), "localhost");
        let g = tls.line();
        assert!(g.starts_with("+OK node"), "{g}");
        let i = usize::from(g.starts_with("+OK node2"));
        let me = tls.local_addr().unwrap();
        tls.login("alice", "pw");
        assert!(tls.cmd("QUIT").starts_with("+OK"));
        let remote = format!("remote={me}");
        buzon_testkit::wait_until(
            Duration::from_secs(10),
            "the node to log the TLS session with the client's address",
            || c.logged(i, &["pop3 session ended", &remote, "tls=\"TLSv1.3\""]),
        );
        seen.push(i);
    }
    seen.sort();
    assert_eq!(seen, vec![0, 1], "round robin over both nodes");
}

#[test]
fn tls_terminated_at_haproxy_counts_as_tls_on_the_node() {
    if !haproxy::available() {
        return;
    }
    // The node refuses plaintext logins without TLS from every network, loopback too.
    let c = Cluster::new(1, "plaintext_networks = []\n");
    let pem = c.haproxy_pem();
    let Some(h) = HaProxy::front(&[
        Front::new("pop3", Bind::Tcp, Check::Pop3, &c.pop3_addrs()),
        Front::new("pop3s", Bind::Tls(pem), Check::Pop3, &c.pop3_addrs()),
    ]) else {
        return;
    };
    h.wait_status("pop3s_nodes", "node1", "UP", HEALTH);
    // Over HAProxy's TLS port: the node got the SSL TLV, so no STLS is offered and
    // USER/PASS works.
    let mut tls = LineClient::connect_tls(h.addr("pop3s"), c.ca.client_config(), "localhost");
    assert!(tls.line().starts_with("+OK node1"));
    let capa = {
        assert!(tls.cmd("CAPA").starts_with("+OK"));
        String::from_utf8_lossy(&tls.body()).to_string()
    };
    assert!(!capa.contains("STLS"), "{capa}");
    assert!(capa.contains("USER"), "{capa}");
    let me = tls.local_addr().unwrap();
    tls.login("alice", "pw");
    assert!(tls.cmd("QUIT").starts_with("+OK"));
    buzon_testkit::wait_until(
        Duration::from_secs(10),
        "the node to log the TLS session as terminated at the proxy",
        || {
            c.logged(
                0,
                &[
                    "pop3 session ended",
                    &format!("remote={me}"),
                    "tls=\"at-proxy\"",
                ],
            )
        },
    );
    // Over HAProxy's plain port: no TLS anywhere, so the node offers STLS and refuses
    // the plaintext login.
    let (mut plain, _) = greet(h.addr("pop3"));
    assert!(plain.cmd("CAPA").starts_with("+OK"));
    let capa = String::from_utf8_lossy(&plain.body()).to_string();
    assert!(capa.contains("STLS"), "{capa}");
    let user = plain.cmd("USER alice");
    let refused = if user.starts_with("+OK") {
        plain.cmd("PASS pw")
    } else {
        user
    };
    assert!(refused.starts_with("-ERR"), "{refused}");
}

/// The fenced blocks of `lang` in docs/scale-out.md, in order.
fn doc_blocks(lang: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/scale-out.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim() == format!("```{lang}") => current = Some(String::new()),
            Some(b) if line.trim() == "```" => {
                blocks.push(std::mem::take(b));
                current = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn the_documented_haproxy_cfg_and_node_config_are_accepted() {
    // The node's buzon.toml, with its password file made real.
    let dir = tempfile::tempdir().unwrap();
    let toml = doc_blocks("toml");
    assert_eq!(toml.len(), 1, "one buzon.toml in docs/scale-out.md");
    let pw = dir.path().join("db-password");
    std::fs::write(&pw, "secret\n").unwrap();
    let text = toml[0].replace("/etc/buzon/db-password", &pw.display().to_string());
    let config = buzon_server::config::Config::parse(&text, "scale-out.md")
        .unwrap_or_else(|e| panic!("the documented buzon.toml: {e}"));
    assert!(matches!(
        config.store,
        buzon_server::config::StoreSettings::Postgres(_)
    ));
    assert_eq!(config.proxy_trusted.len(), 2);
    // The haproxy.cfg: the main part with either port-995 variant, as `haproxy -c` sees it.
    if !haproxy::available() {
        return;
    }
    let cfg = doc_blocks("haproxy");
    assert_eq!(cfg.len(), 3, "main part and the two TLS variants");
    let ca = TestCa::new();
    let cert = ca.issue(&dir.path().join("tls"), &["localhost"], (-1, 30));
    let pem = haproxy::combined_pem(dir.path(), &cert.cert_path, &cert.key_path);
    for (i, variant) in cfg[1..].iter().enumerate() {
        let full = format!("{}\n{variant}", cfg[0])
            .replace(
                "/run/haproxy/admin.sock",
                &dir.path().join("a.sock").display().to_string(),
            )
            .replace(
                "/etc/haproxy/certs/mail.example.pem",
                &pem.display().to_string(),
            );
        let path = dir.path().join(format!("haproxy{i}.cfg"));
        std::fs::write(&path, &full).unwrap();
        let out = std::process::Command::new(haproxy::HAPROXY)
            .args(["-c", "-f"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "haproxy -c refuses the documented configuration {i}: {}{}\n{full}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_postgres_store_is_refused_by_serve_deliver_and_user_rather_than_served_from_maildir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("buzon.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = {data:?}\n[[listen]]\naddress = \"127.0.0.1:0\"\nprotocol = \"pop3\"\n\n\
             [store]\nkind = \"postgres\"\nurl = \"postgresql://buzon:inline-secret@127.0.0.1:1/buzon\"\n"
        ),
    )
    .unwrap();
    let cfg = cfg.display().to_string();
    for (args, code) in [
        (vec!["serve", "--config", &cfg], 2),
        (vec!["user", "--config", &cfg, "list"], 2),
        // EX_TEMPFAIL: the MTA keeps the message until the administrator fixes this.
        (vec!["deliver", "--config", &cfg, "--to", "alice"], 75),
    ] {
        let out = buzon_testkit::run_bounded(
            std::process::Command::new(BIN)
                .args(&args)
                .stdin(std::process::Stdio::null()),
            Duration::from_secs(30),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(
            err.contains("kind = \"postgres\"")
                && err.contains("postgresql://buzon:***@127.0.0.1:1/buzon")
                && err.contains("set kind = \"maildir\""),
            "{args:?}: {err}"
        );
        assert!(!err.contains("inline-secret"), "{err}");
    }
    // Nothing was created on the way: no users file, no mailbox.
    assert!(!data.join("users").exists() && !data.join("mail").exists());
}
