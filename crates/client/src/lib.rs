//! Buzón's POP3 retrieval client: the engine behind `buzon fetch`, `buzon check` and
//! `buzon setup`, usable from other Rust programs.
//!
//! - [`Pop3Client`]: connect (implicit TLS, STLS, or plain), log in, STAT, LIST, UIDL,
//!   RETR (whole or streamed), TOP, DELE, QUIT, with pipelining when offered. The POP3
//!   wire syntax comes from `buzon-pop3-proto`, the single implementation shared with the
//!   server.
//! - [`fetch::fetch`]: download new mail into a Maildir, an mbox or a delivery program,
//!   under the safety protocol RETR → store → record → DELE → QUIT (see [`fetch`]),
//!   with the per-account [`ledger::Ledger`].
//! - [`check::check`]: walk DNS → TCP → TLS → greeting → CAPA → STLS → login → STAT and
//!   explain the first failure.
//! - [`discover::discover`]: find the POP3 server for an address (RFC 6186 SRV records,
//!   autoconfig, MX, guesses), each candidate verified live.
//!
//! ```no_run
//! # async fn demo() -> Result<(), buzon_client::ClientError> {
//! use buzon_client::{Pop3Client, Resolver, Security, ServerSpec, AuthMethod, Secret};
//! let spec = ServerSpec::new("pop.example.com", Security::Tls);
//! let mut c = Pop3Client::connect(&spec, &Resolver::system()).await?;
//! c.login("me@example.com", &Secret::new("password"), AuthMethod::Auto, false).await?;
//! let (count, octets) = c.stat().await?;
//! println!("{count} messages, {octets} octets");
//! c.quit().await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
// ClientError carries the certificate details `buzon check` prints; it is built on failure
// paths only, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod check;
pub mod config;
pub mod deliver;
pub mod discover;
pub mod error;
pub mod fetch;
pub mod http;
pub mod ledger;
pub mod net;
pub mod oauth;
pub mod pop3;

pub use buzon_pop3_proto::{MsgNum, Secret, Uidl};
pub use config::{Account, FileConfig, Oversize, PasswordSource, Policy, Retention};
pub use deliver::Destination;
pub use error::{ClientError, ErrorClass};
pub use net::{Fingerprint, Resolver, Security, Timeouts, TlsSettings};
pub use pop3::{AuthMethod, Pop3Client, ServerSpec};
