//! Buzón nodes behind a real HAProxy (the Debian package), as docs/scale-out.md shows
//! them: TCP mode, PROXY protocol v2 to the nodes, health checks on the greetings. Two
//! `buzon serve` nodes share one PostgreSQL database (the real scale-out: each node has
//! a data folder of its own; a private cluster per test), or, in one variant, one data
//! folder (the Maildir store, so on one machine): POP3 logins and LMTP deliveries through
//! HAProxy reach a node, the node sees the real client address, a killed node leaves the
//! rotation and comes back when restarted. TLS terminated at HAProxy
//! (`send-proxy-v2-ssl`) makes a session count as TLS on the node.
//!
//! A node whose PostgreSQL store cannot be reached refuses to start, naming the URL
//! (password masked), rather than serve local Maildirs.
//!
//! Every wait is bounded; each test takes a few seconds (health checks every 200 ms).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use buzon_testkit::haproxy::{self, Bind, Check, Front, HaProxy};
use buzon_testkit::process::BuzonProcess;
use buzon_testkit::store::TEST_LOCK_LEASE;
use buzon_testkit::{LineClient, NetSplit, PgCluster, SmtpClient, TestCa, TestStore};

use crate::BIN;

/// A node killed or restarted shows in HAProxy's statistics within this (fall 3 × 200 ms
/// or rise 2 × 200 ms, plus check timeouts, on a busy 2-core machine).
pub(crate) const HEALTH: Duration = Duration::from_secs(15);

/// A `buzon serve` node on fixed loopback ports (so a restarted node comes back where
/// HAProxy expects it), trusting PROXY headers from loopback.
pub(crate) struct Node {
    config: PathBuf,
    data: PathBuf,
    pop3: SocketAddr,
    pop3s: SocketAddr,
    lmtp: SocketAddr,
    proc: Option<BuzonProcess>,
}

/// Where the nodes keep users and mail.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shared {
    /// One PostgreSQL database (a private cluster): the scale-out of docs/scale-out.md.
    Postgres,
    /// One data folder: the Maildir store, nodes on one machine.
    Maildir,
}

/// The nodes, their store, and the CA of the nodes' (and HAProxy's) certificate.
pub(crate) struct Cluster {
    pub(crate) nodes: Vec<Node>,
    /// The shared store: users and mail of every node.
    pub(crate) store: TestStore,
    pub(crate) dir: tempfile::TempDir,
    ca: TestCa,
    /// Stopped last, after the nodes and the test database.
    pub(crate) pg: Option<PgCluster>,
}

impl Cluster {
    /// `n` nodes over one store with user alice (password "pw"); `extra` TOML is
    /// appended to every node's configuration. `None` when PostgreSQL is missing (the
    /// test reports itself skipped).
    pub(crate) fn new(n: usize, extra: &str, shared: Shared) -> Option<Cluster> {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let (pg, store) = match shared {
            Shared::Maildir => (
                None,
                TestStore::maildir(&data.join("mail"), &data.join("users")),
            ),
            Shared::Postgres => match PgCluster::start() {
                Ok(pg) => {
                    let store = TestStore::postgres(&pg.url());
                    (Some(pg), store)
                }
                Err(e) => {
                    buzon_testkit::skip(&format!("no PostgreSQL test cluster: {e}"));
                    return None;
                }
            },
        };
        let store_toml = store.config_toml(dir.path());
        let ca = TestCa::new();
        let cert = ca.issue(
            &dir.path().join("tls"),
            &["localhost", "127.0.0.1"],
            (-1, 30),
        );
        let stored = buzon_auth::hash_password(b"pw", &buzon_auth::HashParams::fast_for_tests());
        store.add_user("alice", &stored, &[]);
        let mut nodes = Vec::new();
        for i in 1..=n {
            // On PostgreSQL a node keeps nothing of its own worth sharing: a folder each.
            let data = match shared {
                Shared::Maildir => data.clone(),
                Shared::Postgres => dir.path().join(format!("data{i}")),
            };
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
                 [auth]\nargon2_memory_kib = 256\nargon2_iterations = 1\nfailure_delay = \"50ms\"\n{extra}\n{store_toml}",
                cert.cert_path, cert.key_path
            );
            let config = dir.path().join(format!("node{i}.toml"));
            std::fs::write(&config, text).unwrap();
            nodes.push(Node {
                config,
                data,
                pop3,
                pop3s,
                lmtp,
                proc: None,
            });
        }
        let mut c = Cluster {
            nodes,
            store,
            dir,
            ca,
            pg,
        };
        for i in 0..n {
            c.start(i);
        }
        Some(c)
    }

    pub(crate) fn start(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let p = BuzonProcess::serve(Path::new(BIN), &node.config, &node.data);
        assert_eq!(p.addr("POP3"), node.pop3);
        node.proc = Some(p);
    }

    pub(crate) fn kill(&mut self, i: usize) {
        if let Some(mut p) = self.nodes[i].proc.take() {
            p.kill();
        }
    }

    pub(crate) fn pop3_addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.pop3).collect()
    }

    fn pop3s_addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.pop3s).collect()
    }

    pub(crate) fn lmtp_addrs(&self) -> Vec<SocketAddr> {
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
    logins_and_deliveries_through_haproxy(Shared::Postgres);
}

#[test]
fn logins_and_deliveries_through_haproxy_reach_both_maildir_nodes_on_one_machine() {
    logins_and_deliveries_through_haproxy(Shared::Maildir);
}

fn logins_and_deliveries_through_haproxy(shared: Shared) {
    if !haproxy::available() {
        return;
    }
    let Some(c) = Cluster::new(2, "", shared) else {
        return;
    };
    let Some(h) = two_node_front(&c) else { return };
    for node in ["node1", "node2"] {
        h.wait_status("pop3_nodes", node, "UP", HEALTH);
        h.wait_status("lmtp_nodes", node, "UP", HEALTH);
    }
    // LMTP through HAProxy: two deliveries, one per node (round robin), both land.
    lmtp_deliver(h.addr("lmtp"), 1);
    lmtp_deliver(h.addr("lmtp"), 2);
    let delivered = c.store.stored("alice", None);
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
    let Some(mut c) = Cluster::new(2, "", Shared::Postgres) else {
        return;
    };
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
    assert_eq!(c.store.message_count("alice"), 6);
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
fn nodes_that_cannot_reach_the_database_leave_the_rotation_and_return_with_it() {
    if !haproxy::available() {
        return;
    }
    let Some(c) = Cluster::new(2, "", Shared::Postgres) else {
        return;
    };
    let Some(h) = two_node_front(&c) else { return };
    for node in ["node1", "node2"] {
        h.wait_status("pop3_nodes", node, "UP", HEALTH);
        h.wait_status("lmtp_nodes", node, "UP", HEALTH);
    }
    let pg = c.pg.as_ref().unwrap();
    let started = std::time::Instant::now();
    pg.stop().unwrap();
    // The nodes' greetings turn to -ERR [SYS/TEMP] / 421 4.3.0, which fail the checks.
    for node in ["node1", "node2"] {
        h.wait_status("pop3_nodes", node, "DOWN", HEALTH);
        h.wait_status("lmtp_nodes", node, "DOWN", HEALTH);
    }
    let down_after = started.elapsed();
    let restarted = std::time::Instant::now();
    pg.start_again().unwrap();
    for node in ["node1", "node2"] {
        h.wait_status("pop3_nodes", node, "UP", HEALTH);
        h.wait_status("lmtp_nodes", node, "UP", HEALTH);
    }
    let up_after = restarted.elapsed();
    // Serving again without a restart of buzon.
    let (mut client, _) = greet(h.addr("pop3"));
    client.login("alice", "pw");
    assert!(client.cmd("QUIT").starts_with("+OK"));
    lmtp_deliver(h.addr("lmtp"), 1);
    assert_eq!(c.store.message_count("alice"), 1);
    eprintln!(
        "haproxy: both nodes DOWN {} ms after the database stopped, UP {} ms after it started again (ping every 1 s, checks every {})",
        down_after.as_millis(),
        up_after.as_millis(),
        haproxy::CHECK_INTER
    );
}

/// One line of `client`'s reply as text; `Err(true)` when none came within the read
/// timeout (the server left the client hanging), `Err(false)` when the connection ended.
fn reply(client: &mut LineClient) -> Result<String, bool> {
    match client.try_read_line() {
        Ok(Some(l)) => Ok(String::from_utf8_lossy(&l).into_owned()),
        Ok(None) => Err(false),
        Err(_) => Err(true),
    }
}

/// A login as alice through HAProxy: the session, the node that answered, and when its
/// `PASS` was accepted. `Err(true)`: a reply did not come within 10 s (a hang);
/// `Err(false)`: refused or closed.
fn try_login(front: SocketAddr) -> Result<(LineClient, String, std::time::Instant), bool> {
    let mut c = LineClient::connect(front);
    c.set_read_timeout(Duration::from_secs(10));
    let greeting = reply(&mut c)?;
    let node = greeting
        .split_whitespace()
        .find(|w| w.starts_with("node"))
        .ok_or(false)?
        .to_string();
    if !greeting.starts_with("+OK") {
        return Err(false);
    }
    c.send_raw(b"USER alice\r\n").map_err(|_| false)?;
    if !reply(&mut c)?.starts_with("+OK") {
        return Err(false);
    }
    c.send_raw(b"PASS pw\r\n").map_err(|_| false)?;
    let answer = reply(&mut c)?;
    let at = std::time::Instant::now();
    if answer.starts_with("+OK") {
        Ok((c, node, at))
    } else {
        Err(false)
    }
}

/// A network split between one node and the database (the node and HAProxy still see
/// each other; the node's connections to PostgreSQL go silent, neither refused nor
/// reset): the node's session on alice's mailbox stops serving before another node can
/// take the mailbox over (the lease argument of docs/scale-out.md), its deletions are not
/// applied, HAProxy takes the node out of the rotation, and when the split heals the node
/// serves again by itself.
#[test]
fn a_node_split_from_the_database_stops_serving_before_another_node_takes_the_mailbox() {
    if !haproxy::available() {
        return;
    }
    let Some(mut c) = Cluster::new(2, "", Shared::Postgres) else {
        return;
    };
    // node1 reaches the database over a link the test cuts; node2 directly.
    let port = c.pg.as_ref().map(PgCluster::port).unwrap();
    let link = NetSplit::start(SocketAddr::from(([127, 0, 0, 1], port)));
    c.kill(0);
    let text = std::fs::read_to_string(&c.nodes[0].config).unwrap();
    let via = text.replace(
        &format!("@127.0.0.1:{port}/"),
        &format!("@{}/", link.addr()),
    );
    assert_ne!(via, text, "node1's store URL names the cluster's port");
    std::fs::write(&c.nodes[0].config, via).unwrap();
    c.start(0);
    let Some(h) = two_node_front(&c) else { return };
    for node in ["node1", "node2"] {
        h.wait_status("pop3_nodes", node, "UP", HEALTH);
        h.wait_status("lmtp_nodes", node, "UP", HEALTH);
    }
    for i in 0..3 {
        lmtp_deliver(h.addr("lmtp"), i);
    }
    // A session on node1 that has marked a message for deletion.
    let mut a = buzon_testkit::wait_for(HEALTH, "a POP3 session on node1", || {
        let (client, node) = greet(h.addr("pop3"));
        (node == "node1").then_some(client)
    });
    a.login("alice", "pw");
    assert!(a.cmd("STAT").starts_with("+OK 3 "));
    assert!(a.cmd("DELE 1").starts_with("+OK"));

    link.cut();
    let cut = std::time::Instant::now();
    // node1 must read message 2 from a database it cannot reach, while another client
    // keeps trying to log in to alice through HAProxy from the moment of the split.
    a.set_read_timeout(TEST_LOCK_LEASE * 6);
    a.send("RETR 2");
    let front = h.addr("pop3");
    let other = std::thread::spawn(move || {
        let limit = TEST_LOCK_LEASE * 6;
        let (mut attempts, mut hung) = (0u32, 0u32);
        while cut.elapsed() < limit && attempts < 1000 {
            attempts += 1;
            match try_login(front) {
                Ok(won) => return (Some(won), hung),
                Err(true) => hung += 1,
                Err(false) => {}
            }
            // A poll between attempts (refused: [IN-USE], or node1 still in rotation).
            std::thread::sleep(Duration::from_millis(100));
        }
        (None, hung)
    });
    let answer = reply(&mut a);
    let answered = cut.elapsed();
    let (won, hung) = other.join().unwrap();
    assert_eq!(
        hung, 0,
        "logins on node1 during the split were left without an answer for 10 s"
    );
    let (mut b, node, taken_at) =
        won.expect("no node took alice's mailbox over within 6 leases of the split");
    let taken = taken_at.duration_since(cut);
    let answer = answer.unwrap_or_else(|_| "(no answer)".to_string());
    assert!(
        !answer.starts_with("+OK"),
        "node1 served RETR without its database: {answer}"
    );
    assert!(
        answered < taken,
        "node1 answered RETR {} ms after the split, but {node} took the mailbox over at {} ms: two nodes served it at once",
        answered.as_millis(),
        taken.as_millis()
    );
    assert_eq!(node, "node2");
    // node1's DELE was never applied; node2 sees every message.
    assert!(
        b.cmd("STAT").starts_with("+OK 3 "),
        "node2 sees node1's deletion"
    );
    assert!(b.cmd("QUIT").starts_with("+OK"));
    // node1's session, whatever it answers to QUIT, deletes nothing.
    if a.send_raw(b"QUIT\r\n").is_ok() {
        if let Ok(r) = reply(&mut a) {
            assert!(
                !r.starts_with("+OK"),
                "node1 applied an UPDATE without its database: {r}"
            );
        }
    }
    h.wait_status("pop3_nodes", "node1", "DOWN", HEALTH);
    h.wait_status("lmtp_nodes", "node1", "DOWN", HEALTH);
    let down = cut.elapsed();

    link.heal();
    let healed = std::time::Instant::now();
    h.wait_status("pop3_nodes", "node1", "UP", HEALTH);
    h.wait_status("lmtp_nodes", "node1", "UP", HEALTH);
    let up = healed.elapsed();
    assert_eq!(c.store.message_count("alice"), 3);
    let mut again =
        buzon_testkit::wait_for(HEALTH, "a POP3 session on node1 after the split", || {
            try_login(h.addr("pop3"))
                .ok()
                .and_then(|(client, node, _)| (node == "node1").then_some(client))
        });
    assert!(again.cmd("STAT").starts_with("+OK 3 "));
    assert!(again.cmd("QUIT").starts_with("+OK"));
    eprintln!(
        "split: node1 refused RETR {} ms after the split, node2 took the mailbox at {} ms (lock_lease {} s), node1 DOWN in HAProxy by {} ms, UP {} ms after the split healed",
        answered.as_millis(),
        taken.as_millis(),
        TEST_LOCK_LEASE.as_secs(),
        down.as_millis(),
        up.as_millis()
    );
}

#[test]
fn tls_passed_through_haproxy_ends_on_the_node_with_the_real_client_address() {
    if !haproxy::available() {
        return;
    }
    let Some(c) = Cluster::new(2, "plaintext_networks = []\n", Shared::Postgres) else {
        return;
    };
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
    let Some(c) = Cluster::new(1, "plaintext_networks = []\n", Shared::Postgres) else {
        return;
    };
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
fn an_unreachable_postgres_store_is_refused_by_serve_deliver_and_user_rather_than_served_from_maildir(
) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("buzon.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = {data:?}\n[[listen]]\naddress = \"127.0.0.1:0\"\nprotocol = \"pop3\"\n\n\
             [store]\nkind = \"postgres\"\nurl = \"postgresql://buzon:inline-secret@127.0.0.1:1/buzon\"\nconnect_timeout = \"1s\"\n"
        ),
    )
    .unwrap();
    let cfg = cfg.display().to_string();
    for (args, code) in [
        (vec!["serve", "--config", &cfg], 1),
        (vec!["user", "--config", &cfg, "list"], 1),
        // EX_TEMPFAIL: the MTA keeps the message until the database answers.
        (vec!["deliver", "--config", &cfg, "--to", "alice"], 75),
    ] {
        let out = buzon_testkit::run_bounded(
            std::process::Command::new(BIN)
                .args(&args)
                .env("RUST_LOG", "off")
                .stdin(std::process::Stdio::null()),
            Duration::from_secs(30),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(
            err.contains("postgresql://buzon:***@127.0.0.1:1/buzon")
                && err.contains("start the database"),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(!err.contains("inline-secret"), "{err}");
    }
    // Nothing was created on the way: no users file, no mailbox.
    assert!(!data.join("users").exists() && !data.join("mail").exists());
}
