//! The store's health, for balancers: a node that cannot reach its PostgreSQL database
//! refuses new connections (POP3 `-ERR [SYS/TEMP]`, LMTP/SMTP `421 4.3.0`) so that
//! HAProxy's checks, which expect `+OK` and `220`, take it out of rotation; when the
//! database answers again it greets normally and comes back by itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use buzon_store_pg::PgStore;

/// How often the database is pinged.
pub const PING_INTERVAL: Duration = Duration::from_secs(1);

/// How long one ping may take before the database counts as unreachable.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub struct Health {
    down: AtomicBool,
}

impl Health {
    /// For a PostgreSQL store, starts the background ping (inside a tokio runtime; the
    /// task ends when the returned value is dropped). Maildir: always healthy.
    pub fn start(pg: Option<PgStore>) -> Arc<Health> {
        let me = Arc::new(Health::default());
        if let Some(pg) = pg {
            let weak: Weak<Health> = Arc::downgrade(&me);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(PING_INTERVAL);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let result = tokio::time::timeout(PING_TIMEOUT, pg.ping()).await;
                    let Some(me) = weak.upgrade() else { return };
                    match result {
                        Ok(Ok(())) => {
                            if me.down.swap(false, Ordering::Relaxed) {
                                tracing::info!(
                                    url = pg.display_url(),
                                    "the database answers again; accepting connections"
                                );
                            }
                        }
                        Ok(Err(e)) => me.mark_down(&e.to_string()),
                        Err(_) => me.mark_down(&format!(
                            "the PostgreSQL database at {} did not answer within {PING_TIMEOUT:?}",
                            pg.display_url()
                        )),
                    }
                }
            });
        }
        me
    }

    fn mark_down(&self, why: &str) {
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::error!("refusing new connections until the mail store answers: {why}");
        }
    }

    /// True while the last ping failed.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }
}
