//! Mailboxes and paths, RFC 5321 §4.1.2, with UTF-8 per RFC 6531 §3.3.
//!
//! ```text
//! Reverse-path = Path / "<>"
//! Forward-path = Path
//! Path         = "<" [ A-d-l ":" ] Mailbox ">"
//! Mailbox      = Local-part "@" ( Domain / address-literal )
//! Local-part   = Dot-string / Quoted-string
//! ```
//!
//! Source routes (`A-d-l`) are accepted and ignored, as RFC 5321 §4.1.1.3 and Appendix C
//! require. `RCPT TO:<Postmaster>` without a domain is accepted (§4.1.1.3). The length
//! limit is the one on the whole path, 256 octets (§4.5.3.1.3); local parts longer than
//! 64 octets occur in real return paths (VERP, SRS) and are accepted.

use std::fmt;

/// RFC 5321 §4.5.3.1.3: the longest path, counting the angle brackets.
pub const MAX_PATH: usize = 256;

/// A mailbox `local-part@domain`. The local part is stored unquoted (the value, not its
/// spelling on the wire); the domain as written (an address literal keeps its brackets).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    local_part: String,
    domain: String,
}

/// Why an address was refused; the command parser turns it into a 501/553 reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressError {
    /// Not `<...>`, or junk inside.
    Syntax,
    /// Longer than [`MAX_PATH`].
    TooLong,
}

impl Mailbox {
    /// Builds a mailbox from parts, checking them as the parser would.
    pub fn new(local_part: &str, domain: &str) -> Result<Mailbox, AddressError> {
        if local_part.is_empty()
            || !local_part
                .chars()
                .all(|c| c == ' ' || is_qtext(c) || c == '"' || c == '\\')
        {
            return Err(AddressError::Syntax);
        }
        if !is_domain(domain) {
            return Err(AddressError::Syntax);
        }
        Ok(Mailbox {
            local_part: local_part.to_string(),
            domain: domain.to_string(),
        })
    }

    /// The local part's value (quotes and escapes removed).
    pub fn local_part(&self) -> &str {
        &self.local_part
    }

    /// The domain as written, e.g. `example.com` or `[192.0.2.1]`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// True when every character is ASCII (no SMTPUTF8 needed).
    pub fn is_ascii(&self) -> bool {
        self.local_part.is_ascii() && self.domain.is_ascii()
    }
}

impl fmt::Display for Mailbox {
    /// The wire spelling: a dot-string when the local part is one, else a quoted string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_dot_string(&self.local_part) {
            write!(f, "{}@{}", self.local_part, self.domain)
        } else {
            f.write_str("\"")?;
            for c in self.local_part.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            write!(f, "\"@{}", self.domain)
        }
    }
}

/// The MAIL FROM path: a mailbox, or the null path `<>` of bounces (RFC 5321 §4.5.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath {
    Null,
    Mailbox(Mailbox),
}

impl ReversePath {
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ReversePath::Null => None,
            ReversePath::Mailbox(m) => Some(m),
        }
    }
}

impl fmt::Display for ReversePath {
    /// The address without angle brackets; empty for the null path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => Ok(()),
            ReversePath::Mailbox(m) => m.fmt(f),
        }
    }
}

/// The RCPT TO path: a mailbox, or the bare `Postmaster` every server must accept
/// (RFC 5321 §4.1.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    Postmaster,
    Mailbox(Mailbox),
}

impl ForwardPath {
    /// The local part (`Postmaster` for the bare form).
    pub fn local_part(&self) -> &str {
        match self {
            ForwardPath::Postmaster => "Postmaster",
            ForwardPath::Mailbox(m) => m.local_part(),
        }
    }

    /// The domain, `None` for the bare `Postmaster`.
    pub fn domain(&self) -> Option<&str> {
        match self {
            ForwardPath::Postmaster => None,
            ForwardPath::Mailbox(m) => Some(m.domain()),
        }
    }

    pub fn is_ascii(&self) -> bool {
        match self {
            ForwardPath::Postmaster => true,
            ForwardPath::Mailbox(m) => m.is_ascii(),
        }
    }
}

impl fmt::Display for ForwardPath {
    /// The address without angle brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Postmaster => f.write_str("Postmaster"),
            ForwardPath::Mailbox(m) => m.fmt(f),
        }
    }
}

/// Parses a path at the start of `s` (which must begin with `<`); returns the mailbox
/// (`None` for `<>`) and the rest of `s` after the closing `>`.
pub(crate) fn parse_path(s: &str) -> Result<(Option<Mailbox>, &str), AddressError> {
    let inner = s.strip_prefix('<').ok_or(AddressError::Syntax)?;
    let end = closing_bracket(inner).ok_or(AddressError::Syntax)?;
    if end + 2 > MAX_PATH {
        return Err(AddressError::TooLong);
    }
    let body = &inner[..end];
    let rest = &inner[end + 1..];
    if body.is_empty() {
        return Ok((None, rest));
    }
    let body = strip_source_route(body)?;
    Ok((Some(parse_mailbox(body)?), rest))
}

/// Index of the `>` that closes the path, skipping quoted strings.
fn closing_bracket(s: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted {
            match c {
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
        } else {
            match c {
                '"' => quoted = true,
                '>' => return Some(i),
                _ => {}
            }
        }
    }
    None
}

/// RFC 5321 §4.1.2 `A-d-l ":"`: `@one.example,@two.example:` before the mailbox.
fn strip_source_route(body: &str) -> Result<&str, AddressError> {
    if !body.starts_with('@') {
        return Ok(body);
    }
    // The route ends at the first colon outside an address literal (`@[IPv6:::1]`).
    let mut in_literal = false;
    let colon = body
        .char_indices()
        .find(|&(_, c)| {
            match c {
                '[' => in_literal = true,
                ']' => in_literal = false,
                _ => {}
            }
            c == ':' && !in_literal
        })
        .map(|(i, _)| i)
        .ok_or(AddressError::Syntax)?;
    let (route, mailbox) = (&body[..colon], &body[colon + 1..]);
    for hop in route.split(',') {
        let domain = hop.strip_prefix('@').ok_or(AddressError::Syntax)?;
        if !is_domain(domain) {
            return Err(AddressError::Syntax);
        }
    }
    Ok(mailbox)
}

fn parse_mailbox(s: &str) -> Result<Mailbox, AddressError> {
    let (local_part, after) = if let Some(q) = s.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = q.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    end = Some(i);
                    break;
                }
                // quoted-pairSMTP = %d92 %d32-126
                '\\' => match chars.next() {
                    Some((_, e)) if (' '..='~').contains(&e) => value.push(e),
                    _ => return Err(AddressError::Syntax),
                },
                c if is_qtext(c) || c == ' ' => value.push(c),
                _ => return Err(AddressError::Syntax),
            }
        }
        let end = end.ok_or(AddressError::Syntax)?;
        (value, &q[end + 1..])
    } else {
        // A Dot-string has no `@`, so the first one starts the domain, which may be an
        // address literal that holds `@` itself (`a@[tag:b@c]`).
        let at = s.find('@').ok_or(AddressError::Syntax)?;
        let local = &s[..at];
        if !is_dot_string(local) {
            return Err(AddressError::Syntax);
        }
        (local.to_string(), &s[at..])
    };
    let domain = after.strip_prefix('@').ok_or(AddressError::Syntax)?;
    if local_part.is_empty() || !is_domain(domain) {
        return Err(AddressError::Syntax);
    }
    Ok(Mailbox {
        local_part,
        domain: domain.to_string(),
    })
}

/// RFC 5321 atext, extended by RFC 6531 §3.3 with any non-ASCII character.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// qtextSMTP = %d32-33 / %d35-91 / %d93-126, plus UTF-8 (RFC 6531).
fn is_qtext(c: char) -> bool {
    matches!(c, '!' | '#'..='[' | ']'..='~') || !c.is_ascii()
}

/// Dot-string = Atom *("." Atom)
pub fn is_dot_string(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

/// RFC 5321 Domain (letters, digits, hyphens; U-labels per RFC 6531) or an address
/// literal `[192.0.2.1]`, `[IPv6:2001:db8::1]`, `[tag:content]`.
pub fn is_domain(s: &str) -> bool {
    if let Some(lit) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return is_address_literal(lit);
    }
    if s.is_empty() || s.len() > 255 {
        return false;
    }
    s.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || c == '-'
                    || !c.is_ascii() && !c.is_control() && !c.is_whitespace()
            })
    })
}

fn is_address_literal(lit: &str) -> bool {
    if lit.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    if let Some(v6) = lit
        .strip_prefix("IPv6:")
        .or_else(|| lit.strip_prefix("ipv6:"))
    {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    // General-address-literal = Standardized-tag ":" 1*dcontent
    match lit.split_once(':') {
        Some((tag, content)) => {
            is_domain(tag)
                && !content.is_empty()
                && content.chars().all(|c| matches!(c, '!'..='Z' | '^'..='~'))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> Result<Option<Mailbox>, AddressError> {
        parse_path(s).map(|(m, rest)| {
            assert_eq!(rest, "", "{s}");
            m
        })
    }

    #[test]
    fn known_answers() {
        let m = path("<user@example.com>")
            .unwrap_or_else(|e| panic!("{e:?}"))
            .unwrap_or_else(|| panic!());
        assert_eq!((m.local_part(), m.domain()), ("user", "example.com"));
        assert_eq!(path("<>"), Ok(None));
        let m = path("<\"john smith\\\"x\"@example.com>")
            .unwrap_or_else(|e| panic!("{e:?}"))
            .unwrap_or_else(|| panic!());
        assert_eq!(m.local_part(), "john smith\"x");
        assert_eq!(m.to_string(), "\"john smith\\\"x\"@example.com");
        let m = path("<@a.example,@b.example:joe@c.example>")
            .unwrap_or_else(|e| panic!("{e:?}"))
            .unwrap_or_else(|| panic!());
        assert_eq!(m.to_string(), "joe@c.example");
        let m = path("<a@[192.0.2.1]>")
            .unwrap_or_else(|e| panic!("{e:?}"))
            .unwrap_or_else(|| panic!());
        assert_eq!(m.domain(), "[192.0.2.1]");
        assert!(path("<a@[IPv6:2001:db8::1]>").is_ok());
        let m = path("<jos\u{e9}@espa\u{f1}a.example>")
            .unwrap_or_else(|e| panic!("{e:?}"))
            .unwrap_or_else(|| panic!());
        assert!(!m.is_ascii());
        let m = path("<a\"b@x.example>");
        assert_eq!(m, Err(AddressError::Syntax));
        for bad in [
            "user@example.com",
            "<user>",
            "<@x:>",
            "<a..b@x>",
            "<.a@x>",
            "<a@-x>",
            "<a@x..y>",
            "<a@[1.2.3]>",
            "<a@x",
            "<\"a@x>",
            "<a b@x>",
        ] {
            assert!(path(bad).is_err(), "{bad}");
        }
        let long = format!("<{}@example.com>", "a".repeat(250));
        assert_eq!(path(&long), Err(AddressError::TooLong));
        let (m, rest) = parse_path("<a@b.example> SIZE=10").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(m.is_some());
        assert_eq!(rest, " SIZE=10");
        // A general address literal may hold `@`, `"` and `<`: the domain starts at
        // the first `@` after the local part, quoted or not, and the route ends at the
        // first colon outside a literal.
        let m = path("<\"quleOcal\"@[ETRN:<\"quleOcal\"@eya.exa.l]>")
            .unwrap_or_else(|e| panic!("{e:?}"))
            .unwrap_or_else(|| panic!());
        assert_eq!(m.domain(), "[ETRN:<\"quleOcal\"@eya.exa.l]");
        assert_eq!(path(&format!("<{m}>")), Ok(Some(m)));
        let m = path("<@[IPv6:2001:db8::1],@b.example:joe@[x:y@z]>")
            .unwrap_or_else(|e| panic!("{e:?}"))
            .unwrap_or_else(|| panic!());
        assert_eq!((m.local_part(), m.domain()), ("joe", "[x:y@z]"));
        assert!(parse_path("<\"a>b\"@x.example>")
            .is_ok_and(|(m, r)| r.is_empty() && m.is_some_and(|m| m.local_part() == "a>b")));
    }

    proptest::proptest! {
        #[test]
        fn display_round_trips(local in "[a-zA-Z0-9 .\"\\\\!#]{1,20}", domain in "[a-z]{1,10}\\.example") {
            if let Ok(m) = Mailbox::new(&local, &domain) {
                let wire = format!("<{m}>");
                let back = path(&wire);
                proptest::prop_assert_eq!(back, Ok(Some(m)));
            }
        }

        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = parse_path(&s);
        }
    }
}
