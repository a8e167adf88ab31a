//! User-name patterns for spreading load over many mailboxes: `user{00001..01000}` is
//! user00001 … user01000 (the width of the first bound sets the zero padding), and a name
//! without braces is itself. Workers take names in turn, so a run of N operations touches
//! the names in order and wraps around.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::BenchError;

/// Most names one pattern may expand to.
pub const MAX_USERS: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPattern {
    prefix: String,
    suffix: String,
    range: Option<(u64, u64, usize)>,
}

impl UserPattern {
    pub fn parse(s: &str) -> Result<Self, BenchError> {
        let bad = |why: &str| {
            BenchError::Usage(format!(
                "user pattern {s:?}: {why}; write e.g. \"user{{00001..01000}}\" or a single name"
            ))
        };
        let Some(open) = s.find('{') else {
            if s.is_empty() || s.contains('}') {
                return Err(bad("not a user name"));
            }
            return Ok(UserPattern {
                prefix: s.into(),
                suffix: String::new(),
                range: None,
            });
        };
        let close = s[open..]
            .find('}')
            .map(|i| i + open)
            .ok_or_else(|| bad("'{' without '}'"))?;
        let (a, b) = s[open + 1..close]
            .split_once("..")
            .ok_or_else(|| bad("the braces must hold FIRST..LAST"))?;
        let first: u64 = a.parse().map_err(|_| bad("FIRST is not a number"))?;
        let last: u64 = b.parse().map_err(|_| bad("LAST is not a number"))?;
        if last < first {
            return Err(bad("LAST is smaller than FIRST"));
        }
        if last - first >= MAX_USERS as u64 {
            return Err(bad("more than 1,000,000 names"));
        }
        let suffix = &s[close + 1..];
        if suffix.contains('{') || suffix.contains('}') {
            return Err(bad("only one {FIRST..LAST} range is supported"));
        }
        let width = if a.len() > 1 && a.starts_with('0') {
            a.len()
        } else {
            0
        };
        Ok(UserPattern {
            prefix: s[..open].into(),
            suffix: suffix.into(),
            range: Some((first, last, width)),
        })
    }

    pub fn len(&self) -> usize {
        match self.range {
            Some((a, b, _)) => (b - a + 1) as usize,
            None => 1,
        }
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `i`-th name (wrapping around).
    pub fn name(&self, i: usize) -> String {
        match self.range {
            Some((a, _, width)) => {
                let n = a + (i % self.len()) as u64;
                format!("{}{:0width$}{}", self.prefix, n, self.suffix)
            }
            None => self.prefix.clone(),
        }
    }
}

/// Hands out names of a pattern in turn to concurrent workers.
#[derive(Debug)]
pub struct UserCursor {
    pattern: UserPattern,
    next: AtomicUsize,
}

impl UserCursor {
    pub fn new(pattern: UserPattern) -> Self {
        UserCursor {
            pattern,
            next: AtomicUsize::new(0),
        }
    }

    pub fn next_name(&self) -> String {
        self.pattern.name(self.next.fetch_add(1, Ordering::Relaxed))
    }

    pub fn pattern(&self) -> &UserPattern {
        &self.pattern
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_ranges_with_padding() {
        let p = UserPattern::parse("user{00001..01000}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.len(), 1000);
        assert_eq!(p.name(0), "user00001");
        assert_eq!(p.name(999), "user01000");
        assert_eq!(p.name(1000), "user00001");
        let p = UserPattern::parse("big{1..4}@example.com").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (p.name(0), p.name(3)),
            (
                "big1@example.com".to_string(),
                "big4@example.com".to_string()
            )
        );
        let p = UserPattern::parse("alice").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.len(), p.name(5)), (1, "alice".to_string()));
        for bad in [
            "",
            "u{1..}",
            "u{5..1}",
            "u{1..2}{3..4}",
            "u{a..b}",
            "u{1..2",
            "u}",
        ] {
            assert!(UserPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cursor_hands_out_names_in_turn() {
        let c = UserCursor::new(UserPattern::parse("u{1..2}").unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(
            [c.next_name(), c.next_name(), c.next_name()],
            ["u1", "u2", "u1"]
        );
    }
}
