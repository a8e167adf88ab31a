//! The integration tests of the server crate, built into one test binary (one link of
//! tokio and rustls instead of one per file).
//!
//! The modules share one process. State that belongs to the whole process:
//! - `login` installs a global tracing subscriber (once, warnings and errors only) to
//!   count the errors a broken users file causes; it matches them by the users file's
//!   path, which is unique to each test's temporary folder, so the events of servers of
//!   other modules that share the process cannot be mistaken for them;
//! - the open-file limit is only ever raised to the hard limit (`testkit::raise_nofile`);
//! - every server listens on port 0; no test changes environment variables, the current
//!   directory or signal handlers of this process.

// Helpers outside #[test] functions fail the test by panicking too (clippy.toml's
// allow-unwrap-in-tests covers only the test functions themselves).
#![allow(clippy::unwrap_used)]

mod hostile;
mod intake;
mod login;
mod pop3;
mod transcripts_tcp;
