//! Runs the real `buzon serve` binary as a child process (for crash tests that SIGKILL it
//! and interop tests with third-party programs), with a generated config on 127.0.0.1
//! port 0 and a certificate from a [`TestCa`].

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use crate::certs::TestCa;

/// A `buzon serve` child process. Killed on drop.
pub struct BuzonProcess {
    pub child: Child,
    /// Listening addresses by protocol name as printed ("POP3", "POP3S", …).
    pub addrs: Vec<(String, SocketAddr)>,
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
    /// What the server logged on stderr (the last lines, bounded).
    log: Arc<Mutex<VecDeque<String>>>,
}

/// Lines of a server's log kept for [`BuzonProcess::log`].
const LOG_LINES: usize = 20_000;

/// Writes a config file for a test server in `dir`: loopback port-0 listeners for POP3
/// and POP3S, a CA-signed certificate, fast Argon2 parameters, and `extra` TOML appended.
pub fn write_config(dir: &Path, ca: &TestCa, extra: &str) -> PathBuf {
    let cert = ca.issue(&dir.join("tls"), &["localhost", "127.0.0.1"], (-1, 30));
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let text = format!(
        "data_dir = {data:?}\nhostname = \"test.buzon.invalid\"\n\n[[listen]]\naddress = \"127.0.0.1:0\"\nprotocol = \"pop3\"\n\n[[listen]]\naddress = \"127.0.0.1:0\"\nprotocol = \"pop3s\"\n\n[tls]\ncertificate = {:?}\nkey = {:?}\n\n[auth]\nargon2_memory_kib = 256\nargon2_iterations = 1\nfailure_delay = \"50ms\"\n{extra}\n",
        cert.cert_path, cert.key_path
    );
    let path = dir.join("buzon.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

impl BuzonProcess {
    /// Starts `binary serve --config config_path` and waits (bounded) for its listeners.
    pub fn serve(binary: &Path, config_path: &Path, data_dir: &Path) -> Self {
        Self::serve_with(Command::new(binary), config_path, data_dir)
    }

    /// Like [`serve`](Self::serve), with `program` as the command to which `serve --config
    /// FILE` is appended: a wrapper such as `setpriv --reuid=ACCOUNT … /usr/bin/buzon`
    /// starts the server as a service manager would.
    pub fn serve_with(mut program: Command, config_path: &Path, data_dir: &Path) -> Self {
        let shown = format!("{:?}", program.get_program());
        let mut child = program
            .args(["serve", "--config"])
            .arg(config_path)
            .env("RUST_LOG", "info")
            // Tests read the start-up lines in English, whatever the caller's locale.
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {shown}: {e}"));
        let stdout = child.stdout.take().expect("no stdout");
        let stderr = child.stderr.take().expect("no stderr");
        // Keep draining stderr so the child never blocks on a full pipe.
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let keep = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("BUZON_TEST_LOG").is_some() {
                    eprintln!("[buzon] {line}");
                }
                let mut l = keep.lock().unwrap_or_else(|p| p.into_inner());
                if l.len() >= LOG_LINES {
                    l.pop_front();
                }
                l.push_back(line);
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut addrs = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some((what, addr)) = line
                        .strip_prefix("buzon: ")
                        .and_then(|l| l.split_once(" listening on "))
                    {
                        let proto = what
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_string();
                        if let Ok(a) = addr.trim().parse() {
                            addrs.push((proto, a));
                        }
                    }
                    if line.contains("TLS certificate SHA-256") {
                        return Self {
                            child,
                            addrs,
                            config_path: config_path.to_path_buf(),
                            data_dir: data_dir.to_path_buf(),
                            log,
                        };
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!("buzon serve exited early: {status}");
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("buzon serve closed its stdout before listening")
                }
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("buzon serve did not start within 60 s");
    }

    pub fn addr(&self, proto: &str) -> SocketAddr {
        self.addrs
            .iter()
            .find(|(p, _)| p == proto)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no {proto} listener in {:?}", self.addrs))
    }

    /// The server's log lines so far (stderr, `RUST_LOG=info`), terminal colour codes
    /// removed.
    pub fn log(&self) -> Vec<String> {
        let l = self.log.lock().unwrap_or_else(|p| p.into_inner());
        l.iter().map(|line| strip_ansi(line)).collect()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait (bounded) for a clean exit.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = crate::wait::poll(Duration::from_secs(15), || {
            self.child.try_wait().ok().flatten()
        });
        if status.is_none() {
            self.kill();
        }
        status
    }
}

impl Drop for BuzonProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `line` without ANSI escape sequences (`ESC [ … letter`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
