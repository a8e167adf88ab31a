//! Buzón's delivery engine, shared by the LMTP and SMTP listeners and `buzon deliver`:
//! recipient checks at RCPT time ([`route`]: local domains, aliases, sub-addressing,
//! catch-all; [`quota`]), then per-user Sieve ([`filter`]), our trace fields ([`trace`])
//! and an all-or-nothing durable delivery through the store's
//! [`DeliveryStore`](buzon_store::DeliveryStore) seam ([`deliver`]). Messages wait in a
//! [`spool`] while they arrive.
//!
//! Synchronous and free of networking: the server runs it on blocking threads, and
//! `buzon deliver` calls it directly, without the network runtime. It never names a file
//! of the mail store and never acknowledges a message before the store has made it
//! durable.
#![forbid(unsafe_code)]

pub mod deliver;
pub mod filter;
pub mod quota;
pub mod route;
pub mod spool;
pub mod trace;

pub use deliver::{
    Copy, Deliverer, Delivery, Failure, Grouping, Incoming, IntakeError, Outcome, Recipient,
};
