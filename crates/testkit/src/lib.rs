//! Test helpers (dev-only): a real server on 127.0.0.1 port 0 with a temporary data
//! folder, certificates from a throw-away CA, a raw line client with timeouts over plain
//! TCP or real TLS, and the transcript runner over TCP.
//!
//! Everything here is bounded: every read has a timeout, every loop a limit.
#![forbid(unsafe_code)]

pub mod certs;
pub mod client;
pub mod dns;
pub mod dovecot;
pub mod fault;
pub mod https;
pub mod process;
pub mod server;
pub mod smtp;

pub use certs::TestCa;
pub use client::LineClient;
pub use dns::{DnsRecord, TestDns};
pub use dovecot::{Dovecot, DovecotOptions};
pub use fault::{Fault, FaultProxy};
pub use https::TestHttps;
pub use process::BuzonProcess;
pub use server::{TestServer, TestServerBuilder};
pub use smtp::SmtpClient;
