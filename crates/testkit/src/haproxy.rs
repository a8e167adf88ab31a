//! Runs a real HAProxy (the Debian package, `/usr/sbin/haproxy`) in front of Buzón nodes:
//! a generated `haproxy.cfg` on loopback ports (TCP mode, PROXY protocol v2 to the nodes,
//! health checks that expect the POP3 `+OK` or the LMTP/SMTP `220` greeting; a connection
//! to a node that refuses it is retried on another), HAProxy in
//! the foreground (`-db`) as a child process, started when its frontends accept and
//! killed on drop. The admin socket answers which servers HAProxy sees up.
//!
//! [`HaProxy::front`] generates the configuration docs/scale-out.md shows (there with
//! production ports and intervals); [`HaProxy::start`] runs any configuration text.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where Debian installs HAProxy.
pub const HAPROXY: &str = "/usr/sbin/haproxy";

/// What a backend's health check expects from a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// POP3: the `+OK` greeting, then `QUIT` and its `+OK`.
    Pop3,
    /// POP3S (TLS passed through to the node): the same over TLS (`check-ssl`; the check
    /// does not verify the node's certificate, clients do).
    Pop3Tls,
    /// LMTP or SMTP: the `220` greeting, then `QUIT` and its `221`.
    Greeting220,
}

/// How a frontend takes clients in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// Plain TCP: bytes (TLS or not) pass through to the node as they are.
    Tcp,
    /// HAProxy terminates TLS with this PEM file (certificate chain and key in one file)
    /// and forwards plaintext with `send-proxy-v2-ssl`, so the node learns the client
    /// used TLS.
    Tls(PathBuf),
}

/// One frontend and its backend of nodes.
#[derive(Debug, Clone)]
pub struct Front {
    /// Names the frontend (`pop3`, `pop3s`, `lmtp`) and its backend (`<name>_nodes`).
    pub name: String,
    pub bind: Bind,
    pub check: Check,
    /// The nodes' listeners this front spreads connections over.
    pub nodes: Vec<SocketAddr>,
}

impl Front {
    pub fn new(name: &str, bind: Bind, check: Check, nodes: &[SocketAddr]) -> Front {
        Front {
            name: name.into(),
            bind,
            check,
            nodes: nodes.to_vec(),
        }
    }
}

/// Health-check timing of the generated configuration: a node is down after `fall`
/// failed checks `inter` apart and up again after `rise` good ones. Short for tests
/// (a killed node is out of rotation in about 0.6 s); docs/scale-out.md uses 2s/3/2.
pub const CHECK_INTER: &str = "200ms";
pub const CHECK_FALL: u32 = 3;
pub const CHECK_RISE: u32 = 2;

/// A running HAProxy. Killed on drop.
pub struct HaProxy {
    child: Child,
    /// Holds haproxy.cfg, the admin socket and the combined TLS PEM files.
    pub dir: tempfile::TempDir,
    /// The configuration HAProxy runs with.
    pub config: String,
    /// Frontend name → the loopback address it listens on.
    pub fronts: Vec<(String, SocketAddr)>,
    log: Arc<Mutex<String>>,
}

/// Whether HAProxy is installed; when not, [`crate::skip`] has reported it (and failed
/// under `BUZON_REQUIRE_ALL=1`) and the caller returns.
pub fn available() -> bool {
    if Path::new(HAPROXY).exists() {
        return true;
    }
    crate::skip("haproxy is not installed (Debian: apt-get install haproxy)");
    false
}

/// A free port on 127.0.0.1 (bound, then released for the program that will listen on
/// it; nothing else on this loopback picks ports in the ephemeral range by number).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// Writes `cert` and `key` (PEM files) into one PEM file in `dir`, as HAProxy's `crt`
/// wants them.
pub fn combined_pem(dir: &Path, cert: &Path, key: &Path) -> PathBuf {
    let mut pem = std::fs::read(cert).unwrap_or_else(|e| panic!("{}: {e}", cert.display()));
    pem.extend(std::fs::read(key).unwrap_or_else(|e| panic!("{}: {e}", key.display())));
    let path = dir.join(format!(
        "{}.haproxy.pem",
        cert.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    std::fs::write(&path, pem).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

/// The haproxy.cfg for `fronts`, with each frontend bound to its address in `ports`
/// (same order) and the admin socket at `admin`.
pub fn config_text(fronts: &[Front], binds: &[SocketAddr], admin: &Path) -> String {
    let mut c = format!(
        "global\n    maxconn 512\n    stats socket {} mode 600 level admin\n\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10m\n    timeout server 10m\n    timeout check 1s\n    retries 2\n    option redispatch\n\n",
        admin.display()
    );
    for (f, bind) in fronts.iter().zip(binds) {
        let (bind_opts, send) = match &f.bind {
            Bind::Tcp => (String::new(), "send-proxy-v2"),
            Bind::Tls(pem) => (format!(" ssl crt {}", pem.display()), "send-proxy-v2-ssl"),
        };
        c.push_str(&format!(
            "frontend {name}\n    bind {bind}{bind_opts}\n    default_backend {name}_nodes\n\n\
             backend {name}_nodes\n    balance roundrobin\n    option tcp-check\n",
            name = f.name
        ));
        let check = match f.check {
            Check::Pop3 | Check::Pop3Tls => "    tcp-check expect string +OK\n    tcp-check send QUIT\\r\\n\n    tcp-check expect string +OK\n",
            Check::Greeting220 => "    tcp-check expect string 220\n    tcp-check send QUIT\\r\\n\n    tcp-check expect string 221\n",
        };
        c.push_str(check);
        let tls = if f.check == Check::Pop3Tls {
            " check-ssl verify none"
        } else {
            ""
        };
        for (i, node) in f.nodes.iter().enumerate() {
            c.push_str(&format!(
                "    server node{n} {node} {send} check check-send-proxy{tls} inter {CHECK_INTER} fall {CHECK_FALL} rise {CHECK_RISE}\n",
                n = i + 1
            ));
        }
        c.push('\n');
    }
    c
}

impl HaProxy {
    /// Generates the configuration for `fronts` on free loopback ports and starts HAProxy.
    /// `None` when HAProxy is not installed (reported by [`available`]).
    pub fn front(fronts: &[Front]) -> Option<HaProxy> {
        if !available() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let binds: Vec<SocketAddr> = fronts
            .iter()
            .map(|_| SocketAddr::from(([127, 0, 0, 1], free_port())))
            .collect();
        let text = config_text(fronts, &binds, &dir.path().join("admin.sock"));
        let names = fronts.iter().map(|f| f.name.clone()).zip(binds).collect();
        Some(Self::run(dir, text, names))
    }

    /// Starts HAProxy with `config_text` as its haproxy.cfg; `fronts` names the frontend
    /// addresses to wait for. `None` when HAProxy is not installed.
    pub fn start(config_text: &str, fronts: &[(&str, SocketAddr)]) -> Option<HaProxy> {
        if !available() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let names = fronts.iter().map(|(n, a)| (n.to_string(), *a)).collect();
        Some(Self::run(dir, config_text.to_string(), names))
    }

    fn run(dir: tempfile::TempDir, config: String, fronts: Vec<(String, SocketAddr)>) -> HaProxy {
        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(&cfg, &config).unwrap_or_else(|e| panic!("{}: {e}", cfg.display()));
        let check = Command::new(HAPROXY)
            .args(["-c", "-q", "-f"])
            .arg(&cfg)
            .output()
            .unwrap_or_else(|e| panic!("{HAPROXY}: {e}"));
        assert!(
            check.status.success(),
            "haproxy refuses the configuration: {}{}\n{config}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let mut child = Command::new(HAPROXY)
            .args(["-db", "-f"])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {HAPROXY}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut l = log.lock().unwrap_or_else(|p| p.into_inner());
                    // Bounded: the first 256 KB say why HAProxy failed.
                    if l.len() < 256 * 1024 {
                        l.push_str(&line);
                        l.push('\n');
                    }
                }
            });
        }
        let mut h = HaProxy {
            child,
            dir,
            config,
            fronts,
            log,
        };
        let ready = crate::wait::poll(Duration::from_secs(10), || {
            if let Ok(Some(status)) = h.child.try_wait() {
                panic!("haproxy exited at start: {status}\n{}", h.log());
            }
            h.fronts
                .iter()
                .all(|(_, a)| TcpStream::connect_timeout(a, Duration::from_secs(1)).is_ok())
                .then_some(())
        });
        if ready.is_none() {
            panic!(
                "haproxy's frontends did not accept within 10 s\n{}",
                h.log()
            );
        }
        h
    }

    /// The address of frontend `name`.
    pub fn addr(&self, name: &str) -> SocketAddr {
        self.fronts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no frontend {name} in {:?}", self.fronts))
    }

    /// What HAProxy printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A command on the admin socket (`show stat`, `show servers state`), its answer.
    pub fn admin(&self, command: &str) -> String {
        let path = self.dir.path().join("admin.sock");
        let mut s = UnixStream::connect(&path)
            .unwrap_or_else(|e| panic!("haproxy admin socket {}: {e}", path.display()));
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
        s.write_all(format!("{command}\n").as_bytes())
            .unwrap_or_else(|e| panic!("haproxy admin socket: {e}"));
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    /// The health status of each server of `backend` as HAProxy's statistics show it
    /// (`UP`, `DOWN`, `UP 1/2` while rising, …), by server name.
    pub fn server_status(&self, backend: &str) -> Vec<(String, String)> {
        let stat = self.admin("show stat");
        let header: Vec<&str> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        let (Some(px), Some(sv), Some(st)) = (col("pxname"), col("svname"), col("status")) else {
            panic!("unexpected `show stat` answer: {stat}");
        };
        stat.lines()
            .skip(1)
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| {
                f.get(px) == Some(&backend)
                    && !matches!(f.get(sv), Some(&"BACKEND") | Some(&"FRONTEND") | None)
            })
            .map(|f| {
                (
                    f.get(sv).copied().unwrap_or_default().to_string(),
                    f.get(st).copied().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// Waits (bounded by `timeout`) until server `server` of `backend` has status `want`
    /// (`"UP"` or `"DOWN"`).
    #[track_caller]
    pub fn wait_status(&self, backend: &str, server: &str, want: &str, timeout: Duration) {
        crate::wait::wait_until(
            timeout,
            &format!("haproxy to see {backend}/{server} {want}"),
            || {
                self.server_status(backend)
                    .iter()
                    .any(|(s, st)| s == server && st == want)
            },
        );
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_configuration_checks_greetings_and_sends_proxy_v2() {
        let n: SocketAddr = "127.0.0.1:2110".parse().unwrap();
        let l: SocketAddr = "127.0.0.1:2024".parse().unwrap();
        let text = config_text(
            &[
                Front::new("pop3", Bind::Tcp, Check::Pop3, &[n, n]),
                Front::new("pop3s", Bind::Tls("/x.pem".into()), Check::Pop3, &[n]),
                Front::new("lmtp", Bind::Tcp, Check::Greeting220, &[l]),
            ],
            &[
                "127.0.0.1:1".parse().unwrap(),
                "127.0.0.1:2".parse().unwrap(),
                "127.0.0.1:3".parse().unwrap(),
            ],
            Path::new("/run/admin.sock"),
        );
        assert!(text.contains("bind 127.0.0.1:2 ssl crt /x.pem"), "{text}");
        assert!(text.contains("server node2 127.0.0.1:2110 send-proxy-v2 check"));
        assert!(text.contains("server node1 127.0.0.1:2110 send-proxy-v2-ssl check"));
        assert!(text.contains("tcp-check expect string 220"));
        assert_eq!(text.matches("tcp-check expect string +OK").count(), 4);
    }
}
