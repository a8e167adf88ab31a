//! Overload against the real `buzon serve` process, whose memory is read from /proc: 5,000
//! idle authenticated sessions (all held, the next connection refused at the configured
//! limit with -ERR [SYS/TEMP]), and clients that never read their replies or send
//! megabyte lines (server memory stays bounded; the stuck sessions end at the write
//! timeout). The server raises its open-file soft limit to the hard limit and warns when
//! the connection limit does not fit. Figures are printed, never asserted against a clock.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use buzon_testkit::process::{write_config, BuzonProcess};
use buzon_testkit::{LineClient, TestCa};

use crate::BIN;

/// Memory of a process: (PSS, RSS) in KiB, from smaps_rollup and status.
fn memory_kib(pid: u32) -> (u64, u64) {
    let field = |text: &str, key: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    (field(&rollup, "Pss:"), field(&status, "VmRSS:"))
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn connect_from(src: IpAddr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    sock.bind(&SocketAddr::new(src, 0).into())?;
    sock.connect_timeout(&addr.into(), Duration::from_secs(10))?;
    let tcp: TcpStream = sock.into();
    tcp.set_read_timeout(Some(Duration::from_secs(60)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(60)))?;
    Ok(tcp)
}

/// Reads one CRLF line (bounded).
fn read_line(tcp: &mut TcpStream) -> std::io::Result<String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while line.len() < 4096 {
        if tcp.read(&mut b)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed",
            ));
        }
        line.push(b[0]);
        if line.ends_with(b"\r\n") {
            line.truncate(line.len() - 2);
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
    }
    Err(std::io::Error::other("line too long"))
}

struct Setup {
    _dir: tempfile::TempDir,
    proc: BuzonProcess,
}

/// A server with `users` users (u0, u1, … with password "pw<i>"), Maildirs made, and
/// `extra` config.
fn setup(users: usize, extra: &str, message: Option<&[u8]>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let config = write_config(dir.path(), &ca, extra);
    let data = dir.path().join("data");
    // {PLAIN} entries keep 5,000 logins cheap; hashing is measured by the benchmarks.
    let mut users_file = String::new();
    for i in 0..users {
        users_file.push_str(&format!("u{i}:{{PLAIN}}pw{i}\n"));
        let md = data.join("mail").join(format!("u{i}"));
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(md.join(sub)).unwrap();
        }
        if let Some(m) = message {
            let w = buzon_pop3_proto::wire::WireSize::of(m);
            std::fs::write(
                md.join("cur")
                    .join(format!("1600000000.M1P1Q{i}.load,S={},W={w}:2,", m.len())),
                m,
            )
            .unwrap();
        }
    }
    std::fs::write(data.join("users"), users_file).unwrap();
    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    Setup { _dir: dir, proc }
}

#[test]
fn five_thousand_idle_authenticated_sessions_are_held_and_the_next_is_refused_at_the_limit() {
    buzon_testkit::raise_nofile();
    const SESSIONS: usize = 5000;
    const THREADS: usize = 8;
    let s = setup(
        SESSIONS,
        &format!("\n[limits]\nmax_connections = {SESSIONS}\n"),
        None,
    );
    let pid = s.proc.child.id();
    let addr = s.proc.addr("POP3");
    let (pss0, rss0) = memory_kib(pid);
    let started = Instant::now();
    // 50 client machines (127.0.3.1–50), 100 sessions each: the per-address default.
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut held = Vec::new();
                let mut failures = Vec::new();
                for i in (t..SESSIONS).step_by(THREADS) {
                    let src = IpAddr::V4(Ipv4Addr::new(127, 0, 3, 1 + (i / 100) as u8));
                    let r = (|| -> std::io::Result<TcpStream> {
                        let mut c = connect_from(src, addr)?;
                        let g = read_line(&mut c)?;
                        if !g.starts_with("+OK") {
                            return Err(std::io::Error::other(g));
                        }
                        c.write_all(format!("USER u{i}\r\nPASS pw{i}\r\n").as_bytes())?;
                        let u = read_line(&mut c)?;
                        let p = read_line(&mut c)?;
                        if !u.starts_with("+OK") || !p.starts_with("+OK") {
                            return Err(std::io::Error::other(format!("{u} / {p}")));
                        }
                        Ok(c)
                    })();
                    match r {
                        Ok(c) => held.push((i, c)),
                        Err(e) => failures.push(format!("session {i}: {e}")),
                    }
                }
                (held, failures)
            })
        })
        .collect();
    let mut held = Vec::new();
    let mut failures = Vec::new();
    for w in workers {
        let (h, f) = w.join().expect("client thread");
        held.extend(h);
        failures.extend(f);
    }
    let login_time = started.elapsed();
    // The server has accepted every held session once it has a socket open for each.
    buzon_testkit::wait_until(
        Duration::from_secs(60),
        "the server to hold every session",
        || open_files(pid) >= held.len(),
    );
    let (pss1, rss1) = memory_kib(pid);
    let fds = open_files(pid);

    // One more, from yet another machine: refused at the total limit, cleanly.
    let mut extra = LineClient::connect_from(IpAddr::V4(Ipv4Addr::new(127, 0, 4, 1)), addr);
    let refusal = extra.line();
    assert!(extra.is_closed(), "the refused connection is closed");

    // The held sessions are alive: every tenth answers NOOP and STAT.
    let mut alive = 0;
    for (i, c) in held.iter_mut().step_by(10) {
        c.write_all(b"NOOP\r\nSTAT\r\n")
            .unwrap_or_else(|e| panic!("session {i}: {e}"));
        let a = read_line(c).unwrap_or_else(|e| panic!("session {i}: {e}"));
        let b = read_line(c).unwrap_or_else(|e| panic!("session {i}: {e}"));
        if a.starts_with("+OK") && b == "+OK 0 0" {
            alive += 1;
        }
    }
    let per_session = (pss1.saturating_sub(pss0)) as f64 / held.len().max(1) as f64;
    eprintln!(
        "idle sessions: {} of {SESSIONS} authenticated in {:.1} s ({} failed); server PSS {pss0} KiB -> {pss1} KiB ({per_session:.1} KiB per session), RSS {rss0} -> {rss1} KiB, {fds} open files; session {} refused with {refusal:?}; {alive}/{} sampled sessions answered",
        held.len(),
        login_time.as_secs_f64(),
        failures.len(),
        SESSIONS + 1,
        held.len().div_ceil(10)
    );
    assert!(
        failures.is_empty(),
        "{} sessions failed, first: {:?}",
        failures.len(),
        failures.first()
    );
    assert_eq!(held.len(), SESSIONS);
    assert!(
        refusal.starts_with("-ERR [SYS/TEMP]") && refusal.contains("Too many connections"),
        "{refusal}"
    );
    assert_eq!(alive, SESSIONS / 10);
    for (_, c) in held.iter_mut() {
        let _ = c.write_all(b"QUIT\r\n");
    }
}

#[test]
fn clients_that_never_read_or_send_megabyte_lines_leave_server_memory_bounded() {
    buzon_testkit::raise_nofile();
    const STUCK: usize = 100;
    const LINES: usize = 100;
    let mut message = b"Subject: one MiB\n\n".to_vec();
    while message.len() < 1 << 20 {
        message.extend_from_slice(
            b"a line of a one megabyte message, to be requested and never read\n",
        );
    }
    let s = setup(
        STUCK,
        "\n[limits]\nwrite_timeout = \"3s\"\n",
        Some(&message),
    );
    let pid = s.proc.child.id();
    let addr = s.proc.addr("POP3");
    let (pss0, rss0) = memory_kib(pid);
    // Each stuck client asks for its 1 MiB message 20 times (20 MiB) and reads nothing.
    let mut stuck = Vec::new();
    for i in 0..STUCK {
        let src = IpAddr::V4(Ipv4Addr::new(127, 0, 5, 1 + (i / 50) as u8));
        let mut c = connect_from(src, addr).unwrap();
        assert!(read_line(&mut c)
            .map(|g| g.starts_with("+OK"))
            .unwrap_or(false));
        c.write_all(format!("USER u{i}\r\nPASS pw{i}\r\n").as_bytes())
            .unwrap();
        assert!(read_line(&mut c)
            .map(|l| l.starts_with("+OK"))
            .unwrap_or(false));
        assert!(read_line(&mut c)
            .map(|l| l.starts_with("+OK"))
            .unwrap_or(false));
        c.write_all("RETR 1\r\n".repeat(20).as_bytes()).unwrap();
        stuck.push(c);
    }
    // Meanwhile other clients each push a megabyte without a line end, never reading.
    let pushers: Vec<_> = (0..LINES)
        .map(|i| {
            std::thread::spawn(move || {
                let src = IpAddr::V4(Ipv4Addr::new(127, 0, 6, 1 + (i / 50) as u8));
                let Ok(mut c) = connect_from(src, addr) else {
                    return 0usize;
                };
                let chunk = vec![b'Z'; 64 * 1024];
                let mut sent = 0;
                for _ in 0..16 {
                    match c.write(&chunk) {
                        Ok(n) => sent += n,
                        Err(_) => break,
                    }
                }
                sent
            })
        })
        .collect();
    // Scenario: memory is measured while the stuck and pushing clients are at it.
    std::thread::sleep(Duration::from_secs(1));
    let (pss1, rss1) = memory_kib(pid);
    let pushed: usize = pushers.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    // The write timeout ends the stuck sessions: their users can log in again (bounded
    // polling), and the server's memory is back near where it started.
    let mut back = 0;
    for i in 0..STUCK {
        let src = IpAddr::V4(Ipv4Addr::new(127, 0, 7, 1 + (i / 50) as u8));
        for _ in 0..80 {
            let mut c = LineClient::connect_from(src, addr);
            assert!(c.line().starts_with("+OK"));
            assert!(c.cmd(&format!("USER u{i}")).starts_with("+OK"));
            let r = c.cmd(&format!("PASS pw{i}"));
            if r.starts_with("+OK") {
                assert!(c.cmd("QUIT").starts_with("+OK"));
                back += 1;
                break;
            }
            assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
            // Bounded retry (80 × 250 ms) until the write timeout frees the session;
            // how many got back is reported, not asserted.
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    let (pss2, rss2) = memory_kib(pid);
    eprintln!(
        "stuck clients: {STUCK} sessions with 20 MiB requested each and nothing read, {LINES} clients pushing {:.1} MiB without a line end: server PSS {pss0} KiB -> {pss1} KiB while stuck -> {pss2} KiB after the write timeout (RSS {rss0} -> {rss1} -> {rss2} KiB); {back}/{STUCK} users could log in again",
        pushed as f64 / (1 << 20) as f64
    );
    assert_eq!(
        back, STUCK,
        "every stuck session was ended by the write timeout"
    );
    // Unbounded buffering would hold the 2,000 MiB requested plus the 100 MiB pushed.
    assert!(
        pss1.saturating_sub(pss0) < 128 * 1024,
        "server memory grew by {} KiB",
        pss1.saturating_sub(pss0)
    );
    drop(stuck);
}

#[test]
fn the_open_file_limit_is_raised_to_the_hard_limit_and_a_too_small_one_is_warned_about() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let config = write_config(dir.path(), &ca, "");
    // Soft limit 256, hard limit 2048: too small for the default 10,000 connections.
    let mut child = std::process::Command::new("sh")
        .args([
            "-c",
            "ulimit -Sn 256 && ulimit -Hn 2048 && exec \"$0\" serve --config \"$1\"",
            BIN,
        ])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stderr = child.stderr.take().expect("no stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut warning = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while warning.is_none() && Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) if l.contains("open-file limit") => warning = Some(l),
            Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    let nofile = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_default()
        .to_string();
    let nums: Vec<&str> = nofile
        .split_whitespace()
        .filter(|w| w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(
        nums,
        ["2048", "2048"],
        "soft limit raised to the hard limit: {nofile}"
    );
    let w = warning.expect("no warning about the open-file limit");
    assert!(w.contains("max_connections") && w.contains("30064"), "{w}");
}
