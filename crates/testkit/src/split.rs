//! A link that a test can cut and heal, as a network split between two hosts looks to
//! both of them: a TCP forwarder on loopback that, while cut, neither forwards a byte in
//! either direction nor accepts new connections (they wait in the listen backlog), and
//! closes nothing — connections stay open and silent, as they do when packets are
//! dropped, rather than being refused or reset. Healed, everything buffered flows again.
//!
//! Every loop is bounded: the threads end when the link is dropped, when either side
//! closes, or after an hour at the latest.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often a paused or idle thread looks at the cut and stop flags.
const TICK: Duration = Duration::from_millis(20);
/// Upper bound on any thread's life.
const MAX_TICKS: u32 = 3600 * 50;

/// A running link to `target`. Dropping it stops it and closes its connections.
pub struct NetSplit {
    addr: SocketAddr,
    state: Arc<State>,
}

struct State {
    cut: AtomicBool,
    stop: AtomicBool,
}

impl NetSplit {
    /// Listens on 127.0.0.1 (a free port) and forwards every connection to `target`.
    pub fn start(target: SocketAddr) -> NetSplit {
        let listener = TcpListener::bind("127.0.0.1:0").expect("split link bind");
        let addr = listener.local_addr().expect("split link address");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let state = Arc::new(State {
            cut: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let st = Arc::clone(&state);
        std::thread::spawn(move || {
            for _ in 0..MAX_TICKS {
                if st.stop.load(Ordering::SeqCst) {
                    return;
                }
                if st.cut.load(Ordering::SeqCst) {
                    std::thread::sleep(TICK);
                    continue;
                }
                match listener.accept() {
                    Ok((client, _)) => {
                        let st = Arc::clone(&st);
                        std::thread::spawn(move || connect(client, target, st));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(TICK),
                    Err(_) => return,
                }
            }
        });
        NetSplit { addr, state }
    }

    /// Where to connect instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts the link: nothing more passes until [`NetSplit::heal`].
    pub fn cut(&self) {
        self.state.cut.store(true, Ordering::SeqCst);
    }

    /// Lets everything through again, what waited first.
    pub fn heal(&self) {
        self.state.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for NetSplit {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
    }
}

fn connect(client: TcpStream, target: SocketAddr, st: Arc<State>) {
    let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) else {
        return;
    };
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let st2 = Arc::clone(&st);
    std::thread::spawn(move || pump(c2, s2, st2));
    pump(server, client, st);
}

/// Copies `from` → `to` while the link is up; while cut, reads nothing (the bytes wait in
/// the kernel's buffers, as they would in flight).
fn pump(mut from: TcpStream, mut to: TcpStream, st: Arc<State>) {
    let _ = from.set_read_timeout(Some(TICK));
    let _ = to.set_write_timeout(Some(Duration::from_secs(60)));
    let mut buf = vec![0u8; 64 * 1024];
    for _ in 0..MAX_TICKS * 2 {
        if st.stop.load(Ordering::SeqCst) {
            break;
        }
        if st.cut.load(Ordering::SeqCst) {
            std::thread::sleep(TICK);
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                // Read just before the cut: held back until the link heals.
                for _ in 0..MAX_TICKS {
                    if !st.cut.load(Ordering::SeqCst) || st.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(TICK);
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
