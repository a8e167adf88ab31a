//! Test helpers (dev-only): a real server on 127.0.0.1 port 0 with a temporary data
//! folder, certificates from a throw-away CA, a raw line client with timeouts over plain
//! TCP or real TLS, the transcript runner over TCP, bounded waits and runs, and the
//! `skip` report for tests that cannot run here.
//!
//! Everything here is bounded: every read has a timeout, every loop a limit.
#![forbid(unsafe_code)]
// Dev-only: a helper that cannot do its job fails the test that called it, by panicking.
#![allow(clippy::unwrap_used)]

pub mod browser;
pub mod certs;
pub mod client;
pub mod dns;
pub mod dovecot;
pub mod fault;
pub mod haproxy;
pub mod https;
pub mod maildir;
pub mod oidc;
pub mod pg;
pub mod process;
pub mod run;
pub mod server;
pub mod smtp;
pub mod split;
pub mod store;
pub mod transcript;
pub mod transcript_tcp;
pub mod wait;

pub use certs::TestCa;
pub use client::LineClient;
pub use dns::{DnsRecord, TestDns};
pub use dovecot::{Dovecot, DovecotOptions};
pub use fault::{Fault, FaultProxy};
pub use haproxy::HaProxy;
pub use https::TestHttps;
pub use oidc::OidcProvider;
pub use pg::PgCluster;
pub use process::BuzonProcess;
pub use run::{raise_nofile, run_bounded};
pub use server::{TestServer, TestServerBuilder};
pub use smtp::SmtpClient;
pub use split::NetSplit;
pub use store::{maildir_only, testing_postgres, TestStore};
pub use wait::{poll, require_all, skip, wait_for, wait_until};
