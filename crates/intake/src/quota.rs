//! Quotas: per-user limits on the bytes and the number of messages in a mailbox (INBOX
//! and all its Maildir++ folders together).
//!
//! The defaults come from `[delivery] quota_bytes` / `quota_messages`; a user's
//! passwd-file extra fields override them, Dovecot style:
//!
//! ```text
//! alice:{ARGON2ID}...::::::userdb_quota_rule=*:storage=1G userdb_quota_rule2=*:messages=5000
//! ```
//!
//! Accepted fields: `userdb_quota_rule`, `userdb_quota_rule2` … `userdb_quota_rule9`
//! (and the same without the `userdb_` prefix). A rule is `*:` followed by one or more
//! `:`-separated limits: `storage=N` (kilobytes unless a unit `B`, `k`, `M`, `G`, `T` is
//! given, as in Dovecot), `bytes=N` (bytes unless a unit is given), `messages=N`, or
//! `ignore`/`none` (no limit). 0 means no limit. Rules for other mailbox names than `*`
//! and relative values (`+10M`, `50%`) are not supported: they are logged and skipped.

use buzon_auth::UserEntry;

/// Limits for one user; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuotaLimits {
    pub bytes: Option<u64>,
    pub messages: Option<u64>,
}

impl QuotaLimits {
    pub fn is_unlimited(&self) -> bool {
        self.bytes.is_none() && self.messages.is_none()
    }

    /// True if a mailbox using `bytes`/`messages` has no room for `add_messages` more
    /// messages of `add_bytes` in total.
    pub fn exceeded_by(
        &self,
        bytes: u64,
        messages: u64,
        add_bytes: u64,
        add_messages: u64,
    ) -> bool {
        self.bytes
            .is_some_and(|l| bytes.saturating_add(add_bytes) > l)
            || self
                .messages
                .is_some_and(|l| messages.saturating_add(add_messages) > l)
    }
}

/// The limits for `entry`: the defaults, overridden by its quota rules.
pub fn limits_for(defaults: QuotaLimits, entry: &UserEntry) -> QuotaLimits {
    let mut limits = defaults;
    let mut keys = vec!["userdb_quota_rule".to_string(), "quota_rule".to_string()];
    for n in 2..=9 {
        keys.push(format!("userdb_quota_rule{n}"));
        keys.push(format!("quota_rule{n}"));
    }
    for key in keys {
        let Some(value) = entry.extra_field(&key) else {
            continue;
        };
        match parse_rule(value) {
            Ok(Some(rule)) => {
                if let Some(b) = rule.bytes {
                    limits.bytes = (b > 0).then_some(b);
                }
                if let Some(m) = rule.messages {
                    limits.messages = (m > 0).then_some(m);
                }
                if rule.ignore {
                    limits = QuotaLimits::default();
                }
            }
            Ok(None) => {}
            Err(why) => {
                tracing::warn!(user = %entry.name, field = %key, value, "quota rule skipped: {why}")
            }
        }
    }
    limits
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Rule {
    bytes: Option<u64>,
    messages: Option<u64>,
    ignore: bool,
}

/// `Ok(None)`: a rule for another mailbox, which Buzón does not apply.
fn parse_rule(value: &str) -> Result<Option<Rule>, String> {
    let (mailbox, limits) = value
        .split_once(':')
        .ok_or_else(|| "expected MAILBOX:LIMIT, e.g. *:storage=1G".to_string())?;
    if mailbox != "*" {
        return Ok(None);
    }
    let mut rule = Rule::default();
    for part in limits.split(':') {
        let (key, v) = part.split_once('=').unwrap_or((part, ""));
        match key.trim().to_ascii_lowercase().as_str() {
            "storage" => rule.bytes = Some(parse_amount(v, 1024)?),
            "bytes" => rule.bytes = Some(parse_amount(v, 1)?),
            "messages" => {
                rule.messages = Some(
                    v.trim()
                        .parse()
                        .map_err(|_| format!("messages={v:?} is not a number"))?,
                )
            }
            "ignore" | "none" => rule.ignore = true,
            other => {
                return Err(format!(
                    "unknown limit {other:?}; use storage=, bytes= or messages="
                ))
            }
        }
    }
    Ok(Some(rule))
}

/// A number with an optional unit (B, k, M, G, T; powers of 1024); `bare` is the
/// multiplier without a unit.
fn parse_amount(v: &str, bare: u64) -> Result<u64, String> {
    let v = v.trim();
    if v.starts_with('+') || v.starts_with('-') || v.ends_with('%') {
        return Err(format!(
            "relative value {v:?} is not supported; give an absolute size"
        ));
    }
    buzon_units::parse_size_with(v, bare)
        .ok_or_else(|| format!("{v:?} is not a size; write e.g. 1G, 500M or 1048576B"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(extra: &[(&str, &str)]) -> UserEntry {
        UserEntry {
            name: "u".into(),
            password: "{PLAIN}x".into(),
            extra: extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            home: None,
        }
    }

    #[test]
    fn rules() {
        let d = QuotaLimits {
            bytes: Some(100),
            messages: None,
        };
        assert_eq!(limits_for(d, &entry(&[])), d);
        assert_eq!(
            limits_for(d, &entry(&[("userdb_quota_rule", "*:storage=1G")])).bytes,
            Some(1 << 30)
        );
        assert_eq!(
            limits_for(d, &entry(&[("userdb_quota_rule", "*:storage=1024")])).bytes,
            Some(1 << 20)
        );
        assert_eq!(
            limits_for(d, &entry(&[("quota_rule", "*:bytes=5000")])).bytes,
            Some(5000)
        );
        let l = limits_for(
            d,
            &entry(&[
                ("userdb_quota_rule", "*:storage=2M"),
                ("userdb_quota_rule2", "*:messages=10"),
            ]),
        );
        assert_eq!(
            l,
            QuotaLimits {
                bytes: Some(2 << 20),
                messages: Some(10)
            }
        );
        assert_eq!(
            limits_for(d, &entry(&[("userdb_quota_rule", "*:bytes=1k:messages=3")])),
            QuotaLimits {
                bytes: Some(1024),
                messages: Some(3)
            }
        );
        assert!(limits_for(d, &entry(&[("userdb_quota_rule", "*:ignore")])).is_unlimited());
        assert_eq!(
            limits_for(d, &entry(&[("userdb_quota_rule", "*:storage=0")])).bytes,
            None
        );
        // Unsupported forms leave the defaults alone.
        for bad in [
            "Trash:storage=+10M",
            "*:storage=+10M",
            "*:storage=50%",
            "*:frobs=1",
            "nonsense",
        ] {
            assert_eq!(
                limits_for(d, &entry(&[("userdb_quota_rule", bad)])),
                d,
                "{bad}"
            );
        }
    }

    #[test]
    fn exceeded() {
        let l = QuotaLimits {
            bytes: Some(100),
            messages: Some(2),
        };
        assert!(!l.exceeded_by(50, 1, 50, 1));
        assert!(l.exceeded_by(50, 1, 51, 1));
        assert!(l.exceeded_by(0, 2, 1, 1));
        assert!(!QuotaLimits::default().exceeded_by(u64::MAX, u64::MAX, 1, 1));
    }
}
