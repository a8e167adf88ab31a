//! Sieve (RFC 5228) for Buzón: the filter between intake and the store. A user's script
//! is compiled once with [`compile`] and then run on each incoming message with
//! [`Script::evaluate`], which says where the message goes: [`Action::Keep`] (INBOX),
//! [`Action::FileInto`] a folder, [`Action::Discard`], or a refusal
//! ([`Action::Reject`], [`Action::Ereject`]).
//!
//! # The subset
//!
//! - RFC 5228 base language: `require`, `if`/`elsif`/`else`, `stop`, `keep`, `discard`;
//!   tests `address`, `header`, `exists`, `size`, `allof`, `anyof`, `not`, `true`,
//!   `false`; comparators `i;ascii-casemap` (default) and `i;octet`; match types `:is`,
//!   `:contains`, `:matches`.
//! - Extensions: `fileinto` and `envelope` (RFC 5228 §4.1, §5.4), `copy` (RFC 3894),
//!   `reject` and `ereject` (RFC 5429), `subaddress` (RFC 5233, separator `+`).
//! - Refused when the script is compiled, with a message naming the line and column:
//!   `redirect` and `vacation` (Buzón never sends mail out), every other extension, and
//!   any unknown command, test, tag or capability.
//!
//! # Limits
//!
//! Scripts are at most [`MAX_SCRIPT_BYTES`]; blocks and tests nest at most
//! [`MAX_NESTING`] deep; one message is delivered to at most [`MAX_ACTIONS`] folders.
//! `:matches` runs in time proportional to value length × key length.
//!
//! This crate is pure: no I/O, no clock, no global state. It never panics on a script
//! or a message, whatever their content.
#![forbid(unsafe_code)]

mod address;
mod compile;
mod error;
mod eval;
mod header;
mod lexer;
mod matching;
mod parser;

pub use address::DETAIL_SEPARATOR;
pub use compile::{Script, CAPABILITIES};
pub use error::CompileError;
pub use eval::{Action, Envelope, Message, Outcome};
pub use header::{decode_rfc2047, parse_headers, Header};

use error::Pos;

/// The largest script accepted, in bytes (RFC 5228 §2.10.6 lets implementations limit
/// script size).
pub const MAX_SCRIPT_BYTES: usize = 1 << 20;

/// How deep blocks and tests may nest (`if` inside `if`, `not` inside `anyof`, …).
pub const MAX_NESTING: usize = 32;

/// How many distinct deliveries (`keep` and `fileinto` folders) one run may ask for.
pub const MAX_ACTIONS: usize = 64;

/// Compiles a Sieve script. Every error carries the line and column of the token at
/// fault and says how to fix it.
///
/// ```
/// let script = buzon_sieve::compile(
///     "require \"fileinto\";\nif header :contains \"subject\" \"[list]\" { fileinto \"Lists\"; }",
/// )?;
/// let headers = buzon_sieve::parse_headers(b"Subject: [list] hello\r\n\r\nbody\r\n");
/// let envelope = buzon_sieve::Envelope { from: "a@example.org", to: "me@example.com" };
/// let message = buzon_sieve::Message { headers: &headers, size: 42 };
/// let outcome = script.evaluate(&envelope, &message);
/// assert_eq!(outcome.actions, vec![buzon_sieve::Action::FileInto { folder: "Lists".into() }]);
/// # Ok::<(), buzon_sieve::CompileError>(())
/// ```
pub fn compile(source: &str) -> Result<Script, CompileError> {
    if source.len() > MAX_SCRIPT_BYTES {
        return Err(CompileError::new(
            Pos { line: 1, column: 1 },
            format!(
                "script too large: {} bytes, the limit is {MAX_SCRIPT_BYTES}; split it or remove unused rules",
                source.len()
            ),
        ));
    }
    let tokens = lexer::tokenize(source)?;
    let tree = parser::parse(tokens)?;
    compile::compile(&tree)
}
