//! `buzon fetch` keeps its memory bounded whatever a message's size: the real binary
//! fetches one large message (generated on the fly by a scripted server, never held in
//! memory by the test) into a Maildir, an mbox and a delivery program, and its peak
//! resident memory (VmHWM of /proc/<pid>/status, read by the server when the client
//! sends QUIT — after the message was stored — and polled during the run) stays under
//! 64 MiB. The size is 300 MiB by default (a debug build over loopback, on a busy CI
//! machine); `BUZON_FETCH_MEMORY_MIB=2048` runs the same test with 2 GiB.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::BIN;
const LIMIT_KIB: u64 = 64 * 1024;
const HEADER: &[u8] = b"From: big@example.test\r\nSubject: a large message\r\n\r\n";

fn size_mib() -> u64 {
    std::env::var("BUZON_FETCH_MEMORY_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// VmHWM (peak resident set) of a process in KiB, if it is still there.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

struct BigServer {
    port: u16,
    client_pid: Arc<AtomicU32>,
    /// VmHWM of the client when it sent QUIT.
    hwm_at_quit: Arc<AtomicU64>,
    deleted: Arc<AtomicU32>,
}

/// A POP3 server with one message of `lines` body lines of 998 'x' (1000 octets on the
/// wire each), written in 64 KiB blocks as it is sent.
fn big_server(lines: u64) -> BigServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let client_pid = Arc::new(AtomicU32::new(0));
    let hwm_at_quit = Arc::new(AtomicU64::new(0));
    let deleted = Arc::new(AtomicU32::new(0));
    let (pid, hwm, del) = (client_pid.clone(), hwm_at_quit.clone(), deleted.clone());
    let size = HEADER.len() as u64 + lines * 1000;
    std::thread::spawn(move || {
        let Some(Ok(conn)) = listener.incoming().next() else {
            return;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(300)));
        let Ok(mut w) = conn.try_clone() else { return };
        let mut r = BufReader::new(conn);
        let _ = w.write_all(b"+OK big\r\n");
        let mut line = String::new();
        for _ in 0..100 {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let cmd = line.trim_end().to_ascii_uppercase();
            let ok = if cmd == "CAPA" {
                w.write_all(b"+OK\r\nUSER\r\nUIDL\r\n.\r\n")
            } else if cmd == "LIST" {
                w.write_all(format!("+OK\r\n1 {size}\r\n.\r\n").as_bytes())
            } else if cmd == "UIDL" {
                w.write_all(b"+OK\r\n1 big-1\r\n.\r\n")
            } else if cmd == "RETR 1" {
                let mut block = Vec::with_capacity(65_000);
                for _ in 0..65 {
                    block.extend_from_slice(&[b'x'; 998]);
                    block.extend_from_slice(b"\r\n");
                }
                let mut res = w.write_all(b"+OK\r\n").and_then(|()| w.write_all(HEADER));
                let mut left = lines;
                while res.is_ok() && left >= 65 {
                    res = w.write_all(&block);
                    left -= 65;
                }
                let rest = usize::try_from(left * 1000).unwrap_or(0);
                res.and_then(|()| w.write_all(&block[..rest]))
                    .and_then(|()| w.write_all(b".\r\n"))
            } else if cmd == "DELE 1" {
                del.fetch_add(1, Ordering::SeqCst);
                w.write_all(b"+OK\r\n")
            } else if cmd == "QUIT" {
                if let Some(k) = vm_hwm_kib(pid.load(Ordering::SeqCst)) {
                    hwm.store(k, Ordering::SeqCst);
                }
                let _ = w.write_all(b"+OK bye\r\n");
                return;
            } else if cmd.starts_with("USER") || cmd.starts_with("PASS") || cmd == "NOOP" {
                w.write_all(b"+OK\r\n")
            } else {
                w.write_all(b"-ERR unknown\r\n")
            };
            if ok.is_err() {
                return;
            }
        }
    });
    BigServer {
        port,
        client_pid,
        hwm_at_quit,
        deleted,
    }
}

/// Fetches the large message into `dest` (destination flags) with the real binary and
/// returns (peak KiB, seconds).
fn fetch_big(dir: &Path, dest: &[&str], lines: u64) -> (u64, f64) {
    let server = big_server(lines);
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(["fetch", "--host", "127.0.0.1", "--port"])
        .arg(server.port.to_string())
        .args(["--security", "none", "--allow-plaintext", "--user", "big"])
        .args(["--password-env", "PW", "--timeout", "120s", "--ledger-dir"])
        .arg(dir.join("ledger"))
        .args(dest)
        .env("PW", "pw")
        .env("XDG_CONFIG_HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    server.client_pid.store(child.id(), Ordering::SeqCst);
    let mut polled = 0u64;
    // Bounded: 2 GiB in a debug build on a busy machine stays well within 20 minutes.
    let pid = child.id();
    let Some(status) = buzon_testkit::poll(Duration::from_secs(1200), || {
        if let Some(k) = vm_hwm_kib(pid) {
            polled = polled.max(k);
        }
        child.try_wait().ok().flatten()
    }) else {
        let _ = child.kill();
        panic!("buzon fetch did not finish within 20 minutes");
    };
    let secs = started.elapsed().as_secs_f64();
    let out = child.wait_with_output().unwrap();
    assert!(
        status.success(),
        "buzon fetch failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let at_quit = server.hwm_at_quit.load(Ordering::SeqCst);
    assert!(at_quit > 0, "the server read no VmHWM at QUIT");
    assert_eq!(
        server.deleted.load(Ordering::SeqCst),
        1,
        "deleted after storing"
    );
    (at_quit.max(polled), secs)
}

fn stored_len_expected(lines: u64) -> u64 {
    // CRLF → LF everywhere.
    (HEADER.len() as u64 - 3) + lines * 999
}

fn report(dest: &str, lines: u64, peak: u64, secs: f64) {
    eprintln!(
        "fetch_memory: {dest}: {} MiB message, peak RSS {} KiB ({:.1} MiB), {:.1} s",
        lines * 1000 / (1024 * 1024),
        peak,
        peak as f64 / 1024.0,
        secs
    );
    assert!(
        peak < LIMIT_KIB,
        "{dest}: peak RSS {peak} KiB is not below {LIMIT_KIB} KiB"
    );
}

#[test]
fn a_large_message_is_streamed_into_a_maildir_with_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = size_mib() * 1024 * 1024 / 1000;
    let md = tmp.path().join("Maildir");
    let md_s = md.to_str().unwrap_or_default();
    let (peak, secs) = fetch_big(tmp.path(), &["--maildir", md_s], lines);
    let files: Vec<_> = std::fs::read_dir(md.join("new"))
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    assert_eq!(files.len(), 1);
    let len = files[0].metadata().map(|m| m.len()).unwrap_or(0);
    assert_eq!(len, stored_len_expected(lines));
    report("maildir", lines, peak, secs);
}

#[test]
fn a_large_message_is_streamed_into_an_mbox_and_a_delivery_program_with_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = size_mib() * 1024 * 1024 / 1000;
    let mbox = tmp.path().join("mail.mbox");
    let mbox_s = mbox.to_str().unwrap_or_default().to_string();
    let (peak, secs) = fetch_big(tmp.path(), &["--mbox", &mbox_s], lines);
    let len = std::fs::metadata(&mbox).map(|m| m.len()).unwrap_or(0);
    // "From MAILER-DAEMON <asctime>\n" + message + blank line.
    let from_line = "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n".len() as u64;
    assert_eq!(len, from_line + stored_len_expected(lines) + 1);
    report("mbox", lines, peak, secs);

    let out = tmp.path().join("mda.out");
    let mda = format!("dd of={} bs=1M status=none", out.display());
    let tmp2 = tempfile::tempdir().unwrap();
    let (peak, secs) = fetch_big(tmp2.path(), &["--mda", &mda], lines);
    let len = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    assert_eq!(len, stored_len_expected(lines));
    report("mda", lines, peak, secs);
}
