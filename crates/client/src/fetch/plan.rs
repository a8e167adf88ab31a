//! The plan of one run: for each message on the server, what to do with it and why,
//! decided from the server's listing, what this machine already holds, the account's
//! policy and the time.
//!
//! Pure: no I/O, no clock, no ledger or destination access (the driver in
//! [`super`] reads those and executes the plan). It must never plan a DELE for a
//! message that is not stored and recorded: a deletion is planned only for a message
//! the ledger says is stored whole ([`Action::Delete`]), or as the step after storing
//! and recording it ([`Action::Fetch`] and [`Action::Record`] with `then_delete`), which
//! the driver takes only once both are durable.

use buzon_pop3_proto::MsgNum;

use super::human_bytes;
use crate::config::{Oversize, Policy, Retention};
use crate::ledger::Entry;

/// One message of the server's listing (RFC 1939 §7: LIST and UIDL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub n: MsgNum,
    /// The size LIST gave (octets on the wire).
    pub size: u64,
    /// `None` on a server without UIDL.
    pub uidl: Option<String>,
}

/// What this machine holds of a message, by its UIDL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// Nothing stored (or a delivery begun and not finished: fetched again).
    Nothing,
    /// Stored durably and recorded in the ledger.
    Stored {
        /// When it was first downloaded (Unix seconds).
        first_seen: u64,
        /// Only its header was stored (`oversize = "headers"`).
        headers_only: bool,
    },
    /// Stored in the destination by an interrupted run that did not record it (its
    /// trace was found there).
    Traced,
}

impl Held {
    /// From the ledger's entry for a UIDL, and (asked only when the ledger does not say
    /// it is stored) whether the destination holds a trace of it. A delivery begun and
    /// not confirmed (an mbox append, a delivery program) is not stored.
    pub fn from_ledger(entry: Option<&Entry>, traced: impl FnOnce() -> bool) -> Held {
        match entry {
            Some(Entry::Stored {
                first_seen,
                headers_only,
                ..
            }) => Held::Stored {
                first_seen: *first_seen,
                headers_only: *headers_only,
            },
            _ if traced() => Held::Traced,
            _ => Held::Nothing,
        }
    }
}

/// What the run does with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// RETR (or `TOP n 0` for the header only), store, record; then DELE when
    /// `then_delete`.
    Fetch {
        headers_only: bool,
        then_delete: bool,
    },
    /// Record the copy an interrupted run stored (not stored again); then DELE when
    /// `then_delete`.
    Record { then_delete: bool },
    /// DELE: stored before, and the policy says it goes.
    Delete,
    /// Leave it on the server; nothing to do.
    Keep,
    /// Too big: left on the server, not downloaded.
    Skip,
}

impl Action {
    /// The word of `--dry-run` and `--json`.
    pub fn label(self) -> &'static str {
        match self {
            Action::Fetch {
                headers_only: true, ..
            } => "fetch-headers",
            Action::Fetch { .. } => "fetch",
            Action::Record { .. } => "record",
            Action::Delete => "delete",
            Action::Keep => "keep",
            Action::Skip => "skip",
        }
    }
}

/// Why: the rule of the policy that decided a message's [`Action`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Not downloaded before; `deleted` when the policy deletes it once stored.
    New { deleted: bool },
    /// Larger than `max_size` with `oversize = "headers"`.
    HeaderOnly,
    /// Only its header was stored before, and it now fits `max_size`.
    HeaderNowFits,
    /// Only its header was stored before, and it is still too big.
    HeaderStillTooBig,
    /// Downloaded before; the policy is to delete after download.
    DeleteAfterDownload,
    /// Downloaded before; `keep = true`.
    Kept,
    /// Downloaded `age_days` ago, at least `days` (`delete_after_days`): deleted.
    Expired { age_days: u64, days: u32 },
    /// Downloaded `age_days` ago, fewer than `days`: kept for now.
    NotYetExpired { age_days: u64, days: u32 },
    /// The per-run `limit` was reached.
    Limit,
    /// Larger than `max_size` with `oversize = "skip"`.
    TooBig { size: u64, max: u64 },
    /// Larger than `max_size` with `oversize = "headers"`, on a server without UIDL.
    TooBigWithoutUidl { size: u64, max: u64 },
    /// Stored by an interrupted run and not recorded.
    Traced,
}

/// As shown by `--dry-run` and in `--json`.
impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Reason::New { deleted: true } => {
                f.write_str("new; deleted on the server after it is stored")
            }
            Reason::New { deleted: false } => f.write_str("new; a copy stays on the server"),
            Reason::HeaderOnly => f.write_str(
                "larger than max_size; only the header is stored, the message stays on the server",
            ),
            Reason::HeaderNowFits => {
                f.write_str("only the header was stored before; it now fits max_size")
            }
            Reason::HeaderStillTooBig => {
                f.write_str("header stored before; too big to download")
            }
            Reason::DeleteAfterDownload => {
                f.write_str("downloaded before; the policy deletes after download")
            }
            Reason::Kept => f.write_str("downloaded before; keep = true"),
            Reason::Expired { age_days, days } => write!(
                f,
                "downloaded {age_days} days ago; delete_after_days = {days}"
            ),
            Reason::NotYetExpired { age_days, days } => write!(
                f,
                "downloaded {age_days} days ago; deleted on the server after {days}"
            ),
            Reason::Limit => f.write_str("per-run limit reached; fetched next run"),
            Reason::TooBig { size, max } => write!(
                f,
                "{} is larger than max_size ({})",
                human_bytes(size),
                human_bytes(max)
            ),
            Reason::TooBigWithoutUidl { size, max } => write!(
                f,
                "{} is larger than max_size ({}); storing only its header needs UIDL, which this server lacks",
                human_bytes(size),
                human_bytes(max)
            ),
            Reason::Traced => {
                f.write_str("stored by an interrupted run; recorded now, not stored again")
            }
        }
    }
}

/// The decision for one message of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<'a> {
    pub msg: &'a Listed,
    pub action: Action,
    pub reason: Reason,
}

/// The decisions for a whole listing, in its order (the order of the commands).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<'a> {
    pub steps: Vec<Step<'a>>,
    /// New messages left for the next run by the per-run limit.
    pub left_by_limit: u64,
}

impl Plan<'_> {
    /// How many messages are downloaded (whole or header), and their listed size.
    pub fn downloads(&self) -> (u64, u64) {
        self.steps
            .iter()
            .filter(|s| matches!(s.action, Action::Fetch { .. }))
            .fold((0, 0), |(n, b), s| (n + 1, b + s.msg.size))
    }
}

/// Without UIDL nothing tells a message downloaded before from a new one, so only the
/// delete policy can work: `keep` and `delete_after_days` would store every message again
/// at every run. The driver refuses such a server before planning.
pub fn needs_uidl(policy: &Policy) -> bool {
    policy.retention != Retention::Delete
}

/// Decides what to do with each message of `listing`.
///
/// `held` says what this machine holds of a message, by UIDL (it is asked only about
/// messages that have one; one without UIDL is always new). `policy.limit` is the
/// run's effective limit; `now` is Unix seconds. A day for `delete_after_days` is 86,400
/// seconds after the first download, counted in whole days.
pub fn plan<'a>(
    listing: &'a [Listed],
    held: impl Fn(&str) -> Held,
    policy: &Policy,
    now: u64,
) -> Plan<'a> {
    let delete = policy.retention == Retention::Delete;
    let mut plan = Plan {
        steps: Vec::with_capacity(listing.len()),
        left_by_limit: 0,
    };
    let mut downloads = 0u32;
    for msg in listing {
        let held = msg.uidl.as_deref().map_or(Held::Nothing, &held);
        let fits = policy.max_size.is_none_or(|max| msg.size <= max);
        let (action, reason) = match held {
            Held::Stored {
                first_seen,
                headers_only: false,
            } => match policy.retention {
                Retention::Delete => (Action::Delete, Reason::DeleteAfterDownload),
                Retention::Keep => (Action::Keep, Reason::Kept),
                Retention::DeleteAfterDays(days) => {
                    let age_days = now.saturating_sub(first_seen) / 86_400;
                    if age_days >= u64::from(days) {
                        (Action::Delete, Reason::Expired { age_days, days })
                    } else {
                        (Action::Keep, Reason::NotYetExpired { age_days, days })
                    }
                }
            },
            Held::Stored {
                headers_only: true, ..
            } if fits => (
                Action::Fetch {
                    headers_only: false,
                    then_delete: delete,
                },
                Reason::HeaderNowFits,
            ),
            Held::Stored {
                headers_only: true, ..
            } => (Action::Keep, Reason::HeaderStillTooBig),
            Held::Traced => (
                Action::Record {
                    then_delete: delete,
                },
                Reason::Traced,
            ),
            Held::Nothing => match policy.max_size {
                Some(max) if !fits => match policy.oversize {
                    Oversize::Skip => (
                        Action::Skip,
                        Reason::TooBig {
                            size: msg.size,
                            max,
                        },
                    ),
                    // The header would be stored again at every run: nothing tells that
                    // it is the same message.
                    Oversize::Headers if msg.uidl.is_none() => (
                        Action::Skip,
                        Reason::TooBigWithoutUidl {
                            size: msg.size,
                            max,
                        },
                    ),
                    // The message stays on the server: only its header is here.
                    Oversize::Headers => (
                        Action::Fetch {
                            headers_only: true,
                            then_delete: false,
                        },
                        Reason::HeaderOnly,
                    ),
                },
                _ => (
                    Action::Fetch {
                        headers_only: false,
                        then_delete: delete,
                    },
                    Reason::New { deleted: delete },
                ),
            },
        };
        let (action, reason) = match action {
            Action::Fetch { .. } if policy.limit.is_some_and(|l| downloads >= l) => {
                plan.left_by_limit += 1;
                (Action::Keep, Reason::Limit)
            }
            Action::Fetch { .. } => {
                downloads += 1;
                (action, reason)
            }
            _ => (action, reason),
        };
        plan.steps.push(Step {
            msg,
            action,
            reason,
        });
    }
    plan
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const DAY: u64 = 86_400;
    const NOW: u64 = 1_700_000_000;

    fn listed(n: u32, size: u64, uidl: Option<&str>) -> Listed {
        Listed {
            n: MsgNum::new(n).unwrap_or_else(|| panic!("message number {n}")),
            size,
            uidl: uidl.map(str::to_string),
        }
    }

    /// Messages 1..=n of 100 octets, UIDLs u1, u2, ….
    fn listing(n: u32) -> Vec<Listed> {
        (1..=n)
            .map(|i| listed(i, 100, Some(&format!("u{i}"))))
            .collect()
    }

    fn policy(retention: Retention) -> Policy {
        Policy {
            retention,
            ..Default::default()
        }
    }

    fn stored(first_seen: u64) -> Held {
        Held::Stored {
            first_seen,
            headers_only: false,
        }
    }

    /// (action label, reason) per message, in order.
    fn decide(
        listing: &[Listed],
        known: &[(&str, Held)],
        policy: &Policy,
        now: u64,
    ) -> Vec<(Action, String)> {
        let known: HashMap<&str, Held> = known.iter().copied().collect();
        plan(
            listing,
            |u| known.get(u).copied().unwrap_or(Held::Nothing),
            policy,
            now,
        )
        .steps
        .iter()
        .map(|s| (s.action, s.reason.to_string()))
        .collect()
    }

    const FETCH_DELETE: Action = Action::Fetch {
        headers_only: false,
        then_delete: true,
    };
    const FETCH_KEEP: Action = Action::Fetch {
        headers_only: false,
        then_delete: false,
    };
    const FETCH_HEADER: Action = Action::Fetch {
        headers_only: true,
        then_delete: false,
    };

    #[test]
    fn delete_policy_fetches_new_messages_then_deletes_them_and_deletes_stored_ones() {
        let got = decide(
            &listing(2),
            &[("u1", stored(NOW - DAY))],
            &policy(Retention::Delete),
            NOW,
        );
        assert_eq!(
            got,
            vec![
                (
                    Action::Delete,
                    "downloaded before; the policy deletes after download".into()
                ),
                (
                    FETCH_DELETE,
                    "new; deleted on the server after it is stored".into()
                ),
            ]
        );
    }

    #[test]
    fn keep_policy_fetches_only_new_messages_and_never_deletes() {
        let got = decide(
            &listing(2),
            &[("u2", stored(0))],
            &policy(Retention::Keep),
            NOW,
        );
        assert_eq!(
            got,
            vec![
                (FETCH_KEEP, "new; a copy stays on the server".into()),
                (Action::Keep, "downloaded before; keep = true".into()),
            ]
        );
    }

    #[test]
    fn delete_after_days_deletes_from_the_whole_day_on() {
        let p = policy(Retention::DeleteAfterDays(14));
        let first = NOW - 14 * DAY;
        let one = listing(1);
        for (now, want) in [
            // One second short of 14 days: 13 whole days.
            (
                first + 14 * DAY - 1,
                (
                    Action::Keep,
                    "downloaded 13 days ago; deleted on the server after 14",
                ),
            ),
            (
                first + 14 * DAY,
                (
                    Action::Delete,
                    "downloaded 14 days ago; delete_after_days = 14",
                ),
            ),
            (
                first + 30 * DAY,
                (
                    Action::Delete,
                    "downloaded 30 days ago; delete_after_days = 14",
                ),
            ),
            // A clock set back before the first download: age 0, kept.
            (
                first - DAY,
                (
                    Action::Keep,
                    "downloaded 0 days ago; deleted on the server after 14",
                ),
            ),
        ] {
            let got = decide(&one, &[("u1", stored(first))], &p, now);
            assert_eq!(
                got,
                vec![(want.0, want.1.to_string())],
                "now = first + {}",
                now as i64 - first as i64
            );
        }
        // New messages are fetched and left on the server.
        assert_eq!(
            decide(&one, &[], &p, NOW),
            vec![(FETCH_KEEP, "new; a copy stays on the server".into())]
        );
        // delete_after_days = 0: deleted at the first run after the download.
        let got = decide(
            &one,
            &[("u1", stored(NOW))],
            &policy(Retention::DeleteAfterDays(0)),
            NOW,
        );
        assert_eq!(
            got,
            vec![(
                Action::Delete,
                "downloaded 0 days ago; delete_after_days = 0".into()
            )]
        );
    }

    #[test]
    fn the_limit_counts_downloads_only_and_leaves_the_rest_for_the_next_run() {
        let mut p = policy(Retention::Delete);
        p.limit = Some(2);
        p.max_size = Some(1000);
        let mut l = listing(5);
        l[1].size = 5000; // skipped: not a download
        let known = [("u1", stored(0))];
        let map: HashMap<&str, Held> = known.iter().copied().collect();
        let got = plan(
            &l,
            |u| map.get(u).copied().unwrap_or(Held::Nothing),
            &p,
            NOW,
        );
        let actions: Vec<(u32, &str, String)> = got
            .steps
            .iter()
            .map(|s| (s.msg.n.get(), s.action.label(), s.reason.to_string()))
            .collect();
        assert_eq!(
            actions,
            vec![
                (
                    1,
                    "delete",
                    "downloaded before; the policy deletes after download".into()
                ),
                (2, "skip", "5.0 kB is larger than max_size (1.0 kB)".into()),
                (
                    3,
                    "fetch",
                    "new; deleted on the server after it is stored".into()
                ),
                (
                    4,
                    "fetch",
                    "new; deleted on the server after it is stored".into()
                ),
                (5, "keep", "per-run limit reached; fetched next run".into()),
            ]
        );
        assert_eq!(got.left_by_limit, 1);
        assert_eq!(got.downloads(), (2, 200));
        // A limit of 0 downloads nothing.
        p.limit = Some(0);
        let got = plan(&l, |_| Held::Nothing, &p, NOW);
        assert_eq!(got.downloads(), (0, 0));
        assert_eq!(got.left_by_limit, 4);
    }

    #[test]
    fn oversize_skip_leaves_big_messages_and_sizes_at_the_limit_are_fetched() {
        let mut p = policy(Retention::Delete);
        p.max_size = Some(100);
        let l = vec![listed(1, 100, Some("a")), listed(2, 101, Some("b"))];
        assert_eq!(
            decide(&l, &[], &p, NOW),
            vec![
                (
                    FETCH_DELETE,
                    "new; deleted on the server after it is stored".into()
                ),
                (Action::Skip, "101 B is larger than max_size (100 B)".into()),
            ]
        );
    }

    #[test]
    fn oversize_headers_stores_the_header_keeps_the_message_and_fetches_it_once_it_fits() {
        let mut p = policy(Retention::Delete);
        p.max_size = Some(1000);
        p.oversize = Oversize::Headers;
        let l = vec![
            listed(1, 5000, Some("big")),
            listed(2, 5000, Some("had-header")),
            listed(3, 900, Some("now-fits")),
        ];
        let header = Held::Stored {
            first_seen: 0,
            headers_only: true,
        };
        let got = decide(&l, &[("had-header", header), ("now-fits", header)], &p, NOW);
        assert_eq!(
            got,
            vec![
                (FETCH_HEADER, "larger than max_size; only the header is stored, the message stays on the server".into()),
                (Action::Keep, "header stored before; too big to download".into()),
                (FETCH_DELETE, "only the header was stored before; it now fits max_size".into()),
            ]
        );
        assert_eq!(
            Action::Fetch {
                headers_only: true,
                then_delete: false
            }
            .label(),
            "fetch-headers"
        );
        // Without max_size every header-only message is fetched whole (and under keep,
        // left on the server).
        p.max_size = None;
        p.retention = Retention::Keep;
        let got = decide(&l[1..2], &[("had-header", header)], &p, NOW);
        assert_eq!(
            got,
            vec![(
                FETCH_KEEP,
                "only the header was stored before; it now fits max_size".into()
            )]
        );
    }

    #[test]
    fn without_uidl_every_message_is_new_and_a_header_only_copy_is_refused() {
        let mut p = policy(Retention::Delete);
        p.max_size = Some(1000);
        p.oversize = Oversize::Headers;
        let l = vec![
            listed(1, 10, None),
            listed(2, 5000, None),
            listed(3, 10, None),
        ];
        let got = plan(
            &l,
            |u| panic!("asked about {u} though no message has a UIDL"),
            &p,
            NOW,
        );
        let got: Vec<(Action, String)> = got
            .steps
            .iter()
            .map(|s| (s.action, s.reason.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                (FETCH_DELETE, "new; deleted on the server after it is stored".into()),
                (Action::Skip, "5.0 kB is larger than max_size (1.0 kB); storing only its header needs UIDL, which this server lacks".into()),
                (FETCH_DELETE, "new; deleted on the server after it is stored".into()),
            ]
        );
        assert!(!needs_uidl(&policy(Retention::Delete)));
        assert!(needs_uidl(&policy(Retention::Keep)));
        assert!(needs_uidl(&policy(Retention::DeleteAfterDays(3))));
    }

    #[test]
    fn traces_of_an_interrupted_run_are_recorded_not_fetched_and_deleted_per_policy() {
        let l = listing(2);
        let known = [("u1", Held::Traced), ("u2", stored(0))];
        let want = |then_delete| {
            vec![(
                Action::Record { then_delete },
                "stored by an interrupted run; recorded now, not stored again".to_string(),
            )]
        };
        for (retention, then_delete) in [
            (Retention::Delete, true),
            (Retention::Keep, false),
            (Retention::DeleteAfterDays(1), false),
        ] {
            let got = decide(&l, &known, &policy(retention), NOW);
            assert_eq!(got[..1], want(then_delete)[..], "{retention:?}");
        }
        // Not counted against the limit.
        let mut p = policy(Retention::Delete);
        p.limit = Some(0);
        let got = plan(
            &l,
            |u| {
                if u == "u1" {
                    Held::Traced
                } else {
                    Held::Nothing
                }
            },
            &p,
            NOW,
        );
        assert_eq!(got.steps[0].action, Action::Record { then_delete: true });
        assert_eq!(got.steps[1].action, Action::Keep);
        assert_eq!(got.downloads(), (0, 0));
    }

    #[test]
    fn what_is_held_follows_the_ledger_then_the_trace() {
        let stored = Entry::Stored {
            first_seen: 7,
            headers_only: true,
            location: "maildir:new/x".into(),
        };
        let pending = Entry::MboxPending {
            offset: 0,
            len: 10,
            sha: "ab".into(),
        };
        let never = || panic!("the trace is not looked for when the ledger says stored");
        assert_eq!(
            Held::from_ledger(Some(&stored), never),
            Held::Stored {
                first_seen: 7,
                headers_only: true
            }
        );
        for entry in [None, Some(&pending), Some(&Entry::MdaPending)] {
            assert_eq!(
                Held::from_ledger(entry, || false),
                Held::Nothing,
                "{entry:?}"
            );
            assert_eq!(Held::from_ledger(entry, || true), Held::Traced, "{entry:?}");
        }
    }

    #[test]
    fn labels_and_the_order_of_the_listing_are_kept() {
        let l = listing(3);
        let p = plan(&l, |_| Held::Nothing, &policy(Retention::Delete), NOW);
        let nums: Vec<u32> = p.steps.iter().map(|s| s.msg.n.get()).collect();
        assert_eq!(nums, vec![1, 2, 3]);
        for (a, label) in [
            (FETCH_DELETE, "fetch"),
            (Action::Record { then_delete: true }, "record"),
            (Action::Delete, "delete"),
            (Action::Keep, "keep"),
            (Action::Skip, "skip"),
        ] {
            assert_eq!(a.label(), label);
        }
    }
}
