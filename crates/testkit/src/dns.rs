//! A tiny DNS responder on 127.0.0.1 (UDP) for discovery tests: answers A, AAAA, SRV and
//! MX queries from a fixed table and NXDOMAIN for unknown names. Runs on a thread until
//! dropped; every receive has a timeout.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, MX, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// One answer in the table.
#[derive(Debug, Clone)]
pub enum DnsRecord {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    Mx {
        preference: u16,
        exchange: String,
    },
}

/// A running responder.
pub struct TestDns {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

fn norm(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl TestDns {
    /// Serves `records` (name, record); names are matched case-insensitively.
    pub fn start(records: Vec<(&str, DnsRecord)>) -> TestDns {
        let table: Vec<(String, DnsRecord)> =
            records.into_iter().map(|(n, r)| (norm(n), r)).collect();
        let sock = UdpSocket::bind("127.0.0.1:0").expect("dns bind");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Bounded: an hour of 100 ms receive timeouts at most.
            for _ in 0..36_000 {
                if stop2.load(Ordering::Relaxed) {
                    return;
                }
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                if let Some(reply) = answer(&table, &query) {
                    let _ = sock.send_to(&reply, peer);
                }
            }
        });
        TestDns { addr, stop }
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer(table: &[(String, DnsRecord)], query: &Message) -> Option<Vec<u8>> {
    let q = query.queries().first()?.clone();
    let qname = norm(&q.name().to_utf8());
    let mut reply = Message::new();
    reply
        .set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_authoritative(true);
    reply
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true);
    reply.add_query(q.clone());
    let known = table.iter().any(|(n, _)| *n == qname);
    if !known {
        reply.set_response_code(ResponseCode::NXDomain);
        return reply.to_vec().ok();
    }
    let name = q.name().clone();
    for (n, r) in table {
        if *n != qname {
            continue;
        }
        let rdata = match (r, q.query_type()) {
            (DnsRecord::A(ip), RecordType::A) => RData::A(A(*ip)),
            (DnsRecord::Aaaa(ip), RecordType::AAAA) => RData::AAAA(AAAA(*ip)),
            (
                DnsRecord::Srv {
                    priority,
                    weight,
                    port,
                    target,
                },
                RecordType::SRV,
            ) => RData::SRV(SRV::new(
                *priority,
                *weight,
                *port,
                Name::from_str(&format!("{}.", norm(target))).ok()?,
            )),
            (
                DnsRecord::Mx {
                    preference,
                    exchange,
                },
                RecordType::MX,
            ) => RData::MX(MX::new(
                *preference,
                Name::from_str(&format!("{}.", norm(exchange))).ok()?,
            )),
            _ => continue,
        };
        reply.add_answer(Record::from_rdata(name.clone(), 60, rdata));
    }
    reply.to_vec().ok()
}
