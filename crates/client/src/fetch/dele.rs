//! When each DELE of a session goes on the wire.
//!
//! Without PIPELINING (RFC 2449 §6.6) a DELE is sent as soon as its message may go and
//! its reply awaited. With it, the DELE is held back to travel in the same write as the
//! next RETR or TOP, saving a round trip per message; one that finds no such command
//! is sent alone (before the next DELE, or before QUIT). Pure: the driver sends what
//! this type says and reports the server's confirmations back.
//!
//! It must never hold more than one DELE (the crash tests count on each DELE being
//! answered before the next message is stored), nor lose one: every message handed to
//! [`Deletions::delete`] comes back out exactly once.

use buzon_pop3_proto::MsgNum;

/// The DELE state of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletions {
    pipelining: bool,
    /// The DELE waiting for the next RETR or TOP (only with pipelining).
    held: Option<MsgNum>,
    /// DELEs the server answered `+OK`.
    confirmed: u64,
}

impl Deletions {
    pub fn new(pipelining: bool) -> Self {
        Self {
            pipelining,
            held: None,
            confirmed: 0,
        }
    }

    /// Message `n` may be deleted now (stored and recorded, or its time has come).
    /// Returns the DELE to send at once, alone, and wait for: `n` itself without
    /// pipelining; with it, the DELE held before (if any), while `n` is held in turn.
    #[must_use = "the returned DELE must be sent now"]
    pub fn delete(&mut self, n: MsgNum) -> Option<MsgNum> {
        if self.pipelining {
            self.held.replace(n)
        } else {
            Some(n)
        }
    }

    /// A RETR or TOP is about to be sent: the held DELE to put before it, in the same
    /// write.
    #[must_use = "the returned DELE must be sent with the next command"]
    pub fn with_next_command(&mut self) -> Option<MsgNum> {
        self.held.take()
    }

    /// Nothing else is to be sent before QUIT: the DELE still held, to send alone.
    #[must_use = "the returned DELE must be sent before QUIT"]
    pub fn finish(&mut self) -> Option<MsgNum> {
        self.held.take()
    }

    /// The server answered a DELE with `+OK`.
    pub fn confirmed(&mut self) {
        self.confirmed += 1;
    }

    /// How many DELEs the server confirmed (it deletes them when it confirms QUIT).
    pub fn count(&self) -> u64 {
        self.confirmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(i: u32) -> MsgNum {
        MsgNum::new(i).unwrap_or_else(|| panic!("message number {i}"))
    }

    #[test]
    fn without_pipelining_every_dele_is_sent_at_once() {
        let mut d = Deletions::new(false);
        assert_eq!(d.delete(n(1)), Some(n(1)));
        assert_eq!(d.with_next_command(), None);
        assert_eq!(d.delete(n(2)), Some(n(2)));
        assert_eq!(d.delete(n(3)), Some(n(3)));
        assert_eq!(d.finish(), None);
    }

    #[test]
    fn with_pipelining_a_dele_waits_for_the_next_retr() {
        let mut d = Deletions::new(true);
        assert_eq!(
            d.with_next_command(),
            None,
            "nothing held before the first RETR"
        );
        assert_eq!(d.delete(n(1)), None, "held, not sent alone");
        assert_eq!(d.with_next_command(), Some(n(1)), "travels with RETR 2");
        assert_eq!(d.with_next_command(), None, "only once");
        assert_eq!(d.delete(n(2)), None);
        assert_eq!(
            d.finish(),
            Some(n(2)),
            "the last one goes alone before QUIT"
        );
        assert_eq!(d.finish(), None);
    }

    #[test]
    fn with_pipelining_consecutive_deles_go_one_by_one_holding_only_the_last() {
        // Messages downloaded before, deleted with no RETR between them.
        let mut d = Deletions::new(true);
        assert_eq!(d.delete(n(1)), None);
        assert_eq!(d.delete(n(2)), Some(n(1)));
        assert_eq!(d.delete(n(3)), Some(n(2)));
        assert_eq!(d.with_next_command(), Some(n(3)));
        assert_eq!(d.finish(), None);
    }

    #[test]
    fn every_message_comes_out_exactly_once_whatever_the_sequence() {
        // Each message is either deleted or followed by a RETR; the sequence is a bit
        // pattern, so all 2^8 orders of 8 messages are checked.
        for pipelining in [false, true] {
            for pattern in 0u32..256 {
                let mut d = Deletions::new(pipelining);
                let mut out = Vec::new();
                for i in 1..=8u32 {
                    if pattern & (1 << (i - 1)) != 0 {
                        out.extend(d.delete(n(i)));
                    } else {
                        out.extend(d.with_next_command());
                    }
                    assert!(pipelining || d.held.is_none());
                }
                out.extend(d.finish());
                let want: Vec<MsgNum> = (1..=8u32)
                    .filter(|i| pattern & (1 << (i - 1)) != 0)
                    .map(n)
                    .collect();
                assert_eq!(out, want, "pipelining {pipelining}, pattern {pattern:08b}");
            }
        }
    }

    #[test]
    fn confirmations_are_counted() {
        let mut d = Deletions::new(true);
        assert_eq!(d.count(), 0);
        d.confirmed();
        d.confirmed();
        assert_eq!(d.count(), 2);
    }
}
