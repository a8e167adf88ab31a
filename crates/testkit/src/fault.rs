//! A fault-injecting TCP proxy for loopback tests: forwards a client to a server and,
//! on the first connection, cuts both directions at a chosen point — after the server
//! sent N bytes, or when the client sends the n-th command starting with a prefix
//! (before forwarding it, or after forwarding it but before relaying its reply). Later
//! connections pass through untouched, so a test can run a clean session afterwards.
//!
//! Commands are only visible on plain connections; byte-count faults work on TLS too.
//! Every socket operation has a timeout; threads end when either side closes.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Where to cut the first connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Close after relaying this many bytes from the server to the client.
    AfterServerBytes(usize),
    /// Close when the client sends the `nth` (1-based) line starting with `prefix`
    /// (case-insensitive), without forwarding it.
    BeforeCommand { prefix: String, nth: usize },
    /// Forward that line to the server, then close before relaying the server's reply.
    AfterCommand { prefix: String, nth: usize },
    /// Accept connections and never send anything (a server that does not greet).
    Silent,
}

/// A running proxy. Dropping it stops accepting.
pub struct FaultProxy {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Set once the fault has been injected.
    pub fired: Arc<AtomicBool>,
}

const IO_TIMEOUT: Duration = Duration::from_secs(20);

impl FaultProxy {
    pub fn start(target: SocketAddr, fault: Fault) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy bind");
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let fired = Arc::new(AtomicBool::new(false));
        let (stop2, fired2) = (stop.clone(), fired.clone());
        let conns = Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            // Bounded: stops when the proxy is dropped, or after an hour at the latest.
            for _ in 0..(3600 * 50) {
                if stop2.load(Ordering::Relaxed) {
                    return;
                }
                match listener.accept() {
                    Ok((client, _)) => {
                        let first = conns.fetch_add(1, Ordering::SeqCst) == 0;
                        let fault = if first { Some(fault.clone()) } else { None };
                        let fired = fired2.clone();
                        std::thread::spawn(move || serve(client, target, fault, fired));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        // A non-blocking accept loop (it checks for shutdown in between),
                        // not a wait before an assertion.
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(_) => return,
                }
            }
        });
        FaultProxy { addr, stop, fired }
    }

    pub fn has_fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(client: TcpStream, target: SocketAddr, fault: Option<Fault>, fired: Arc<AtomicBool>) {
    let _ = client.set_nonblocking(false);
    if fault == Some(Fault::Silent) {
        fired.store(true, Ordering::SeqCst);
        let _ = client.set_read_timeout(Some(IO_TIMEOUT));
        let mut sink = [0u8; 1024];
        let mut c = &client;
        while matches!(c.read(&mut sink), Ok(n) if n > 0) {}
        return;
    }
    let Ok(server) = TcpStream::connect_timeout(&target, IO_TIMEOUT) else {
        return;
    };
    for s in [&client, &server] {
        let _ = s.set_read_timeout(Some(IO_TIMEOUT));
        let _ = s.set_write_timeout(Some(IO_TIMEOUT));
        let _ = s.set_nodelay(true);
    }
    let cut = Arc::new(AtomicBool::new(false));
    // After an AfterCommand fault forwarded its line, replies must no longer be relayed.
    let mute = Arc::new(AtomicBool::new(false));
    let (c2, s2) = match (client.try_clone(), server.try_clone()) {
        (Ok(c), Ok(s)) => (c, s),
        _ => return,
    };
    let server_limit = match &fault {
        Some(Fault::AfterServerBytes(n)) => Some(*n),
        _ => None,
    };
    let (cut2, fired2, mute2) = (cut.clone(), fired.clone(), mute.clone());
    let down = std::thread::spawn(move || {
        // server → client
        let (mut from, mut to) = (s2, c2);
        let mut sent = 0usize;
        let mut buf = [0u8; 16 * 1024];
        loop {
            if cut2.load(Ordering::SeqCst) {
                break;
            }
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if mute2.load(Ordering::SeqCst) {
                break;
            }
            let n = match server_limit {
                Some(limit) if sent + n >= limit => {
                    let _ = to.write_all(&buf[..limit - sent]);
                    fired2.store(true, Ordering::SeqCst);
                    cut2.store(true, Ordering::SeqCst);
                    break;
                }
                _ => n,
            };
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
            sent += n;
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
    // client → server, line-aware for command faults.
    let (mut from, mut to) = (client, server);
    let mut line = Vec::new();
    let mut count = 0usize;
    let mut buf = [0u8; 16 * 1024];
    'outer: loop {
        if cut.load(Ordering::SeqCst) {
            break;
        }
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let command_fault = matches!(
            fault,
            Some(Fault::BeforeCommand { .. } | Fault::AfterCommand { .. })
        );
        if !command_fault {
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
            continue;
        }
        let mut out = Vec::new();
        for &b in &buf[..n] {
            line.push(b);
            if b != b'\n' {
                continue;
            }
            let (prefix, nth, forward) = match &fault {
                Some(Fault::BeforeCommand { prefix, nth }) => (prefix.as_bytes(), *nth, false),
                Some(Fault::AfterCommand { prefix, nth }) => (prefix.as_bytes(), *nth, true),
                _ => (&b""[..], 0, false),
            };
            let matches = nth > 0
                && line.len() >= prefix.len()
                && line[..prefix.len()].eq_ignore_ascii_case(prefix);
            if matches {
                count += 1;
                if count == nth {
                    if forward {
                        fired.store(true, Ordering::SeqCst);
                        mute.store(true, Ordering::SeqCst);
                        out.extend_from_slice(&line);
                        let _ = to.write_all(&out);
                        // Scenario, not a wait for a state: the cut must come while the
                        // server may still be acting on the line it just got.
                        std::thread::sleep(Duration::from_millis(200));
                    } else if !out.is_empty() {
                        let _ = to.write_all(&out);
                    }
                    fired.store(true, Ordering::SeqCst);
                    cut.store(true, Ordering::SeqCst);
                    break 'outer;
                }
            }
            out.extend_from_slice(&line);
            line.clear();
        }
        if to.write_all(&out).is_err() {
            break;
        }
    }
    if !line.is_empty() && !cut.load(Ordering::SeqCst) {
        let _ = to.write_all(&line);
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
    let _ = down.join();
}
