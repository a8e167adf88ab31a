//! Sans-IO SMTP (RFC 5321) and LMTP (RFC 2033), server side, for Buzón's mail intake.
//!
//! Bytes go in, commands, events and reply bytes come out; no sockets, no clock, no
//! filesystem and no async runtime live here. The modules, from the wire upwards:
//!
//! - [`reply`]: replies with RFC 3463 enhanced status codes (RFC 2034), and every fixed
//!   reply the server sends, in one place.
//! - [`address`]: mailboxes and paths (RFC 5321 §4.1.2), with RFC 6531 UTF-8 addresses.
//! - [`command`]: the command parser; every parse error maps to exactly one reply.
//! - [`line`]: command lines with the RFC 5321 §4.5.3.1.6 limit of 1000 octets.
//! - [`data`]: the DATA receiver: streaming dot-unstuffing (RFC 5321 §4.5.2) with a size
//!   cap, and the matching encoder for the client side.
//! - [`server`]: the session state machine for both protocols (PIPELINING, SIZE,
//!   8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8, STARTTLS).
//! - [`client`]: reply parsing for clients (tests, benchmarks).
#![forbid(unsafe_code)]

pub mod address;
pub mod client;
pub mod command;
pub mod data;
pub mod line;
pub mod reply;
pub mod server;

pub use address::{ForwardPath, Mailbox, ReversePath};
pub use command::{parse_command, Body, Command, CommandError, MailParams};
pub use data::{DataReceiver, DataStatus};
pub use line::{LineBuffer, LineError, MAX_LINE};
pub use reply::{EnhancedCode, Reply};
pub use server::{Envelope, Event, Helo, HeloKind, Mode, Session, SessionConfig};
