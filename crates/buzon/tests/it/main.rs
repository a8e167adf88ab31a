//! The integration tests of the `buzon` binary, built into one test binary (one link of
//! tokio and rustls instead of one per file).
//!
//! The modules share one process. State that belongs to the whole process is handled
//! here or in the module that needs it:
//! - the fixed default ports of the zero-config first run (1110, 1995, 1024, 1025) are
//!   used only by `first_run`, whose tests take its `PORTS` lock; every other test binds
//!   port 0 (or, in `privileges`, a free port below 1000, never a default one);
//! - the open-file limit is only ever raised to the hard limit (`testkit::raise_nofile`),
//!   so no test can lower it under another;
//! - no test changes environment variables, the current directory, the umask or signal
//!   handlers of this process: programs get theirs through `Command::env`.

// Helpers outside #[test] functions fail the test by panicking too (clippy.toml's
// allow-unwrap-in-tests covers only the test functions themselves).
#![allow(clippy::unwrap_used)]

mod adopt;
mod bench;
mod chaos;
mod fetch_crash;
mod fetch_memory;
mod first_run;
mod haproxy;
mod intake_crash;
mod interop_clients;
mod interop_intake;
mod languages;
mod metrics;
mod migrate;
mod oauth;
mod overload;
mod packaging;
mod pg_faults;
mod pop3_crash;
mod privileges;
mod scram;
mod two_step;
mod user_messages;
mod web;

/// The `buzon` binary cargo built for these tests. `CARGO_BIN_EXE_<name>` is set by cargo
/// for the integration tests of the package that owns the binary, whatever the target
/// dir, so it is exact where a path guessed from the test executable's location could
/// pick up a stale build.
pub const BIN: &str = env!("CARGO_BIN_EXE_buzon");
