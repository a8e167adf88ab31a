//! Sans-IO POP3 for Buzón: commands, replies, line limits, message encoding, SASL
//! messages, and the server and client halves of a session.
//!
//! No sockets, no clock, no filesystem and no async runtime live here: bytes go in, values
//! and bytes come out. The server, the retrieval client and the benchmark all speak POP3
//! through this crate, so the wire syntax has exactly one source of truth.
#![forbid(unsafe_code)]

pub mod client;
pub mod command;
pub mod line;
pub mod response;
pub mod sasl;
pub mod server;
pub mod types;
pub mod wire;

pub use command::{parse_command, Command, CommandError, InitialResponse};
pub use line::{LineError, LineLimits, LineReader};
pub use response::{parse_status_line, Capabilities, Response, StatusLine};
pub use types::{MsgNum, RespCode, Secret, Security, Uidl};
