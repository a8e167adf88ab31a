//! Routing: which mailboxes an envelope recipient reaches.
//!
//! In order, for a recipient `local@domain`:
//! 1. the domain must be one of `[delivery] local_domains` (compared without case and
//!    without a trailing dot), else the answer is "not local" (550 5.7.1: no relay);
//! 2. the local part is compared without case; a user of that name wins, then an alias;
//! 3. with sub-addressing (RFC 5233), `user+detail` is tried as a whole first, then as
//!    `user` (the separator is `recipient_delimiter`, `+` by default);
//! 4. the domain's catch-all user, if configured;
//! 5. otherwise "unknown user" (550 5.1.1 at RCPT time).
//!
//! The bare `RCPT TO:<Postmaster>` (RFC 5321 §4.1.1.3) is routed as `postmaster` in the
//! first local domain, so an alias `postmaster: admin` makes it reach a person.
//!
//! Aliases (`alias: user1, user2`, one per line, `#` comments) may name users, other
//! aliases, or addresses in a local domain; expansion is bounded (10 levels) and loops
//! are refused when the file is loaded.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use buzon_auth::UserDb;

/// Routing settings from `[delivery]`.
#[derive(Debug, Clone, Default)]
pub struct RoutingConfig {
    /// Lower-case, without trailing dots.
    pub local_domains: Vec<String>,
    /// `None` disables sub-addressing.
    pub recipient_delimiter: Option<String>,
    /// Lower-case domain → user name.
    pub catch_all: HashMap<String, String>,
}

/// Why a recipient has no mailbox here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// The domain is not ours, and we do not relay.
    NotLocal,
    /// No such user, alias or catch-all.
    Unknown,
}

/// The parsed aliases file: lower-case alias → targets as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases {
    map: HashMap<String, Vec<String>>,
}

/// Deepest alias nesting followed.
const MAX_DEPTH: usize = 10;

/// A problem in the aliases file, naming the line.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path} line {line}: {problem} — {fix}")]
pub struct AliasError {
    pub path: String,
    pub line: usize,
    pub problem: String,
    pub fix: &'static str,
}

impl Aliases {
    /// Parses the aliases file text. Targets with a domain must be in a local domain
    /// (aliases never forward mail elsewhere).
    pub fn parse(text: &str, path: &Path, local_domains: &[String]) -> Result<Aliases, AliasError> {
        let err = |line: usize, problem: String, fix: &'static str| AliasError {
            path: path.display().to_string(),
            line,
            problem,
            fix,
        };
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        let mut lines_of: HashMap<String, usize> = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let no = i + 1;
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let Some((name, targets)) = line.split_once(':') else {
                return Err(err(
                    no,
                    format!("{line:?} has no ':'"),
                    "write `alias: user1, user2`",
                ));
            };
            let name = name.trim().to_ascii_lowercase();
            if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '@') {
                return Err(err(
                    no,
                    format!("alias name {name:?} is not a local part"),
                    "use a bare name such as `postmaster`, without a domain",
                ));
            }
            let mut list = Vec::new();
            for t in targets.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                let local = match t.rsplit_once('@') {
                    Some((l, d)) => {
                        let d = normalize_domain(d);
                        if !local_domains.contains(&d) {
                            return Err(err(no, format!("target {t:?} is not in a local domain"), "aliases deliver only to local mailboxes; Buzón does not forward mail to other servers"));
                        }
                        l.to_ascii_lowercase()
                    }
                    None => t.to_ascii_lowercase(),
                };
                list.push(local);
            }
            if list.is_empty() {
                return Err(err(
                    no,
                    format!("alias {name:?} has no targets"),
                    "list one or more users after the ':'",
                ));
            }
            if let Some(first) = lines_of.insert(name.clone(), no) {
                return Err(err(
                    no,
                    format!("alias {name:?} is already defined on line {first}"),
                    "merge the two lines into one",
                ));
            }
            map.insert(name, list);
        }
        let aliases = Aliases { map };
        for name in aliases.map.keys() {
            if let Err(why) = aliases.expand_names(name) {
                return Err(err(
                    lines_of.get(name).copied().unwrap_or(0),
                    format!("alias {name:?}: {why}"),
                    "remove the loop or flatten the nesting",
                ));
            }
        }
        Ok(aliases)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// The non-alias names an alias reaches (users or unknown names), in first-seen order.
    fn expand_names(&self, name: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        self.walk(name, 0, &mut vec![name.to_string()], &mut seen, &mut out)?;
        Ok(out)
    }

    fn walk(
        &self,
        name: &str,
        depth: usize,
        stack: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<String>,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested more than {MAX_DEPTH} levels deep"));
        }
        for t in self.map.get(name).into_iter().flatten() {
            if stack.contains(t) {
                return Err(format!("loops back to {t:?}"));
            }
            if self.map.contains_key(t) {
                stack.push(t.clone());
                self.walk(t, depth + 1, stack, seen, out)?;
                stack.pop();
            } else if seen.insert(t.clone()) {
                out.push(t.clone());
            }
        }
        Ok(())
    }
}

/// Lower-case, without a trailing dot.
pub fn normalize_domain(d: &str) -> String {
    d.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Routes a recipient (`domain` is `None` for the bare Postmaster) to user names as
/// written in the users file. Never returns an empty list.
pub fn route(
    config: &RoutingConfig,
    users: &UserDb,
    aliases: &Aliases,
    local_part: &str,
    domain: Option<&str>,
) -> Result<Vec<String>, RouteError> {
    let domain = match domain {
        Some(d) => {
            let d = normalize_domain(d);
            if !config.local_domains.contains(&d) {
                return Err(RouteError::NotLocal);
            }
            Some(d)
        }
        None => None,
    };
    let local = local_part.to_ascii_lowercase();
    let mut candidates = vec![local.clone()];
    if let Some(delim) = config
        .recipient_delimiter
        .as_deref()
        .filter(|d| !d.is_empty())
    {
        if let Some((base, _detail)) = local.split_once(delim) {
            if !base.is_empty() {
                candidates.push(base.to_string());
            }
        }
    }
    for name in &candidates {
        if let Some(u) = users.lookup(name) {
            return Ok(vec![u.name.clone()]);
        }
        if aliases.contains(name) {
            let mut found = Vec::new();
            for target in aliases.expand_names(name).unwrap_or_default() {
                match users.lookup(&target) {
                    Some(u) if !found.contains(&u.name) => found.push(u.name.clone()),
                    Some(_) => {}
                    None => {
                        tracing::warn!(alias = %name, target = %target, "alias target is not a user; skipped")
                    }
                }
            }
            return if found.is_empty() {
                Err(RouteError::Unknown)
            } else {
                Ok(found)
            };
        }
    }
    if let Some(user) = domain.as_ref().and_then(|d| config.catch_all.get(d)) {
        return match users.lookup(user) {
            Some(u) => Ok(vec![u.name.clone()]),
            None => {
                tracing::warn!(catch_all = %user, "the catch-all user does not exist; refusing the recipient");
                Err(RouteError::Unknown)
            }
        };
    }
    Err(RouteError::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(names: &[&str]) -> UserDb {
        let text: String = names.iter().map(|n| format!("{n}:{{PLAIN}}x\n")).collect();
        UserDb::from_bytes(Path::new("users"), text.as_bytes(), None)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn config() -> RoutingConfig {
        RoutingConfig {
            local_domains: vec!["example.com".into(), "localhost".into()],
            recipient_delimiter: Some("+".into()),
            catch_all: HashMap::from([("localhost".to_string(), "bob".to_string())]),
        }
    }

    fn aliases(text: &str) -> Aliases {
        Aliases::parse(
            text,
            Path::new("aliases"),
            &["example.com".into(), "localhost".into()],
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn routing_table() {
        let users = db(&["alice", "Bob", "a+b"]);
        let al = aliases("# staff\npostmaster: alice\nteam: alice, bob@example.com, ghost\nall: team, carol, alice\nnobody: ghost\n");
        let c = config();
        let r = |l: &str, d: Option<&str>| route(&c, &users, &al, l, d);
        assert_eq!(r("alice", Some("example.com")), Ok(vec!["alice".into()]));
        assert_eq!(r("ALICE", Some("Example.COM.")), Ok(vec!["alice".into()]));
        assert_eq!(r("bob", Some("example.com")), Ok(vec!["Bob".into()]));
        assert_eq!(
            r("alice+lists", Some("example.com")),
            Ok(vec!["alice".into()])
        );
        assert_eq!(
            r("a+b", Some("example.com")),
            Ok(vec!["a+b".into()]),
            "an exact user wins over sub-addressing"
        );
        assert_eq!(
            r("team", Some("example.com")),
            Ok(vec!["alice".into(), "Bob".into()])
        );
        assert_eq!(
            r("team+x", Some("example.com")),
            Ok(vec!["alice".into(), "Bob".into()])
        );
        assert_eq!(
            r("all", Some("example.com")),
            Ok(vec!["alice".into(), "Bob".into()])
        );
        assert_eq!(r("nobody", Some("example.com")), Err(RouteError::Unknown));
        assert_eq!(r("Postmaster", None), Ok(vec!["alice".into()]));
        assert_eq!(r("carol", Some("example.com")), Err(RouteError::Unknown));
        assert_eq!(
            r("carol", Some("localhost")),
            Ok(vec!["Bob".into()]),
            "catch-all"
        );
        assert_eq!(r("alice", Some("elsewhere.org")), Err(RouteError::NotLocal));
        assert_eq!(r("alice", Some("[127.0.0.1]")), Err(RouteError::NotLocal));
        let no_sub = RoutingConfig {
            recipient_delimiter: None,
            ..config()
        };
        assert_eq!(
            route(&no_sub, &users, &al, "alice+x", Some("example.com")),
            Err(RouteError::Unknown)
        );
    }

    #[test]
    fn bad_alias_files_name_the_line() {
        let parse = |t: &str| {
            Aliases::parse(t, Path::new("aliases"), &["example.com".into()])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(parse("a: b\nno colon here\n").contains("line 2"));
        assert!(parse("a: b@elsewhere.org\n").contains("not in a local domain"));
        assert!(parse("a: b\nb: a\n").contains("loops back"));
        assert!(parse("a:\n").contains("no targets"));
        assert!(parse("a: x\nA: y\n").contains("already defined on line 1"));
        let deep: String = (0..12).map(|i| format!("a{i}: a{}\n", i + 1)).collect();
        assert!(parse(&deep).contains("nested more than"));
    }
}
