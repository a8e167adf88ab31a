//! Addresses for the `address` and `envelope` tests (RFC 5228 §2.7.4, §5.1, §5.4):
//! a tolerant parser for RFC 5322 §3.4 address lists and the address parts `:all`,
//! `:localpart`, `:domain` and RFC 5233's `:user` and `:detail`.
//!
//! The parser never fails: display names, comments, groups, quoted local parts, source
//! routes and stray junk are taken apart as far as they make sense, and what is not a
//! `local@domain` address is kept as an invalid address whose `:all` is its text.

/// RFC 5228 §2.7.4 address parts, with RFC 5233 §4 `:user` and `:detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressPart {
    /// `:all` (the default): `local-part@domain`.
    #[default]
    All,
    /// `:localpart`: everything before the `@`.
    LocalPart,
    /// `:domain`: everything after the `@`.
    Domain,
    /// `:user` (RFC 5233): the local part up to the first `+`, or all of it.
    User,
    /// `:detail` (RFC 5233): the local part after the first `+`; no value when there is
    /// no `+`.
    Detail,
}

/// The separator between user and detail in a local part (RFC 5233 §1: "+" is the usual
/// choice; Buzón uses it).
pub const DETAIL_SEPARATOR: char = '+';

/// One address found in a header or envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Address {
    /// `local@domain`; the local part without quoting, the domain without white space.
    Valid { local: String, domain: String },
    /// The null address (`<>`, an empty envelope sender): every part is "" (§5.4).
    Null,
    /// Anything else: only `:all` has a value, the text as written.
    Invalid(String),
}

impl Address {
    /// The value of one address part, or `None` when that part does not exist (and the
    /// test therefore cannot match it).
    pub(crate) fn part(&self, part: AddressPart) -> Option<String> {
        match self {
            Address::Null => Some(String::new()),
            Address::Invalid(text) => match part {
                AddressPart::All => Some(text.clone()),
                _ => None,
            },
            Address::Valid { local, domain } => match part {
                AddressPart::All => Some(format!("{local}@{domain}")),
                AddressPart::LocalPart => Some(local.clone()),
                AddressPart::Domain => Some(domain.clone()),
                AddressPart::User => Some(
                    local
                        .split_once(DETAIL_SEPARATOR)
                        .map_or(local.as_str(), |(u, _)| u)
                        .to_owned(),
                ),
                AddressPart::Detail => local
                    .split_once(DETAIL_SEPARATOR)
                    .map(|(_, d)| d.to_owned()),
            },
        }
    }
}

/// An address as given in the SMTP envelope (RFC 5321 `MAIL FROM`/`RCPT TO`), with or
/// without angle brackets. An empty path is the null address. A path without `@` (such
/// as `postmaster`) is a local part with an empty domain.
pub(crate) fn parse_envelope_address(text: &str) -> Address {
    let t = text.trim();
    let t = t
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(t)
        .trim();
    if t.is_empty() {
        return Address::Null;
    }
    match parse_address_list(t).into_iter().next() {
        Some(Address::Invalid(_)) | None if !t.contains('@') => Address::Valid {
            local: t.to_owned(),
            domain: String::new(),
        },
        Some(a) => a,
        None => Address::Invalid(t.to_owned()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// An atom, quoted string (unquoted) or domain literal, with the text it came from.
    Word {
        text: String,
        quoted: bool,
    },
    Special(char),
}

/// Splits a header value into words and specials, dropping comments and white space.
fn lex(value: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {}
            '(' => {
                // RFC 5322 §3.2.2 comments nest and may hold quoted-pairs.
                let mut depth = 1usize;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            '"' => {
                let mut text = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                text.push(n);
                            }
                        }
                        '"' => break,
                        '\r' | '\n' => {}
                        c => text.push(c),
                    }
                }
                out.push(Tok::Word { text, quoted: true });
            }
            '[' => {
                let mut text = String::from("[");
                for c in chars.by_ref() {
                    if !c.is_whitespace() {
                        text.push(c);
                    }
                    if c == ']' {
                        break;
                    }
                }
                out.push(Tok::Word {
                    text,
                    quoted: false,
                });
            }
            '<' | '>' | '@' | ',' | ':' | ';' | '.' => out.push(Tok::Special(c)),
            c => {
                let mut text = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || "()<>@,:;.\"[".contains(n) {
                        break;
                    }
                    text.push(n);
                    chars.next();
                }
                out.push(Tok::Word {
                    text,
                    quoted: false,
                });
            }
        }
    }
    out
}

/// RFC 5322 §3.4 `address-list`: every mailbox, including the members of groups, in
/// order. Empty groups (`undisclosed-recipients:;`) contribute nothing.
pub(crate) fn parse_address_list(value: &str) -> Vec<Address> {
    let toks = lex(value);
    let mut out = Vec::new();
    let mut segment: Vec<Tok> = Vec::new();
    let mut in_angle = false;
    for t in toks {
        match t {
            Tok::Special('<') => {
                in_angle = true;
                segment.push(t);
            }
            Tok::Special('>') => {
                in_angle = false;
                segment.push(t);
            }
            Tok::Special(',' | ';') if !in_angle => {
                push_mailbox(&segment, &mut out);
                segment.clear();
            }
            // A group's display name ends at its `:`; its members follow.
            Tok::Special(':')
                if !in_angle && !segment.iter().any(|t| matches!(t, Tok::Special('<' | '@'))) =>
            {
                segment.clear();
            }
            t => segment.push(t),
        }
    }
    push_mailbox(&segment, &mut out);
    out
}

fn push_mailbox(segment: &[Tok], out: &mut Vec<Address>) {
    if segment.is_empty() {
        return;
    }
    // `display-name <addr-spec>`: only what is inside the angle brackets counts.
    let spec: &[Tok] = match segment.iter().position(|t| *t == Tok::Special('<')) {
        Some(open) => {
            let inner = &segment[open + 1..];
            let inner = match inner.iter().position(|t| *t == Tok::Special('>')) {
                Some(close) => &inner[..close],
                None => inner,
            };
            if inner.is_empty() {
                out.push(Address::Null);
                return;
            }
            // RFC 5322 §4.4 obsolete source route: `<@a,@b:user@host>`.
            match inner.first() {
                Some(Tok::Special('@')) => match inner.iter().position(|t| *t == Tok::Special(':'))
                {
                    Some(colon) => &inner[colon + 1..],
                    None => inner,
                },
                _ => inner,
            }
        }
        None => segment,
    };
    let text = |toks: &[Tok]| -> String {
        toks.iter()
            .map(|t| match t {
                Tok::Word { text, .. } => text.clone(),
                Tok::Special(c) => c.to_string(),
            })
            .collect()
    };
    // Invalid addresses keep a space between words, as they were most likely written.
    let spaced = |toks: &[Tok]| -> String {
        let mut s = String::new();
        let mut last_word = false;
        for t in toks {
            match t {
                Tok::Word { text, .. } => {
                    if last_word {
                        s.push(' ');
                    }
                    s.push_str(text);
                    last_word = true;
                }
                Tok::Special(c) => {
                    s.push(*c);
                    last_word = false;
                }
            }
        }
        s
    };
    let Some(at) = spec.iter().rposition(|t| *t == Tok::Special('@')) else {
        out.push(Address::Invalid(spaced(spec)));
        return;
    };
    let (local, domain) = (&spec[..at], &spec[at + 1..]);
    let local_ok = !local.is_empty()
        && local
            .iter()
            .all(|t| matches!(t, Tok::Word { .. } | Tok::Special('.')));
    let domain_ok = !domain.is_empty()
        && domain
            .iter()
            .all(|t| matches!(t, Tok::Word { quoted: false, .. } | Tok::Special('.')));
    if local_ok && domain_ok {
        out.push(Address::Valid {
            local: text(local),
            domain: text(domain),
        });
    } else {
        out.push(Address::Invalid(spaced(spec)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(local: &str, domain: &str) -> Address {
        Address::Valid {
            local: local.into(),
            domain: domain.into(),
        }
    }

    #[test]
    fn address_list_table() {
        let table: &[(&str, Vec<Address>)] = &[
            ("coyote@desert.example.org", vec![valid("coyote", "desert.example.org")]),
            (
                "Wile E. Coyote <coyote@desert.example.org>",
                vec![valid("coyote", "desert.example.org")],
            ),
            (
                "\"Coyote, Wile E.\" <coyote@desert.example.org>, rr@acme.example.com",
                vec![
                    valid("coyote", "desert.example.org"),
                    valid("rr", "acme.example.com"),
                ],
            ),
            (
                "coyote@desert.example.org (Wile E. Coyote), (just a comment) rr @ acme . example . com",
                vec![
                    valid("coyote", "desert.example.org"),
                    valid("rr", "acme.example.com"),
                ],
            ),
            (
                "\"john doe\"@example.com",
                vec![valid("john doe", "example.com")],
            ),
            (
                "\"a\\\"b\"@example.com",
                vec![valid("a\"b", "example.com")],
            ),
            (
                "friends: a@x.example, B <b@y.example>; c@z.example",
                vec![
                    valid("a", "x.example"),
                    valid("b", "y.example"),
                    valid("c", "z.example"),
                ],
            ),
            ("undisclosed-recipients:;", vec![]),
            ("", vec![]),
            (" , ,", vec![]),
            (
                "<@relay.example:user@host.example>",
                vec![valid("user", "host.example")],
            ),
            ("<>", vec![Address::Null]),
            ("ken+mta-filters@example.com", vec![valid("ken+mta-filters", "example.com")]),
            ("user@[192.0.2.1]", vec![valid("user", "[192.0.2.1]")]),
            ("not an address", vec![Address::Invalid("not an address".into())]),
            ("a@", vec![Address::Invalid("a@".into())]),
            ("@b", vec![Address::Invalid("@b".into())]),
            (
                "Name <first.last@example.com",
                vec![valid("first.last", "example.com")],
            ),
            (
                "(unclosed comment a@b",
                vec![],
            ),
            (
                "youcouldberich!@reply-by-postal-mail.invalid",
                vec![valid("youcouldberich!", "reply-by-postal-mail.invalid")],
            ),
        ];
        for (input, want) in table {
            assert_eq!(&parse_address_list(input), want, "{input:?}");
        }
    }

    #[test]
    fn address_parts() {
        let a = valid("ken+mta-filters", "Example.COM");
        assert_eq!(
            a.part(AddressPart::All).as_deref(),
            Some("ken+mta-filters@Example.COM")
        );
        assert_eq!(
            a.part(AddressPart::LocalPart).as_deref(),
            Some("ken+mta-filters")
        );
        assert_eq!(a.part(AddressPart::Domain).as_deref(), Some("Example.COM"));
        assert_eq!(a.part(AddressPart::User).as_deref(), Some("ken"));
        assert_eq!(a.part(AddressPart::Detail).as_deref(), Some("mta-filters"));
        // RFC 5233 §4: no separator, no detail; an empty detail is "".
        let plain = valid("ken", "example.com");
        assert_eq!(plain.part(AddressPart::User).as_deref(), Some("ken"));
        assert_eq!(plain.part(AddressPart::Detail), None);
        let empty = valid("ken+", "example.com");
        assert_eq!(empty.part(AddressPart::Detail).as_deref(), Some(""));
        let two = valid("ken+a+b", "example.com");
        assert_eq!(two.part(AddressPart::User).as_deref(), Some("ken"));
        assert_eq!(two.part(AddressPart::Detail).as_deref(), Some("a+b"));
        // RFC 5228 §5.4: the null path is "" whatever the part.
        for p in [
            AddressPart::All,
            AddressPart::LocalPart,
            AddressPart::Domain,
            AddressPart::User,
            AddressPart::Detail,
        ] {
            assert_eq!(Address::Null.part(p).as_deref(), Some(""));
        }
        let bad = Address::Invalid("junk".into());
        assert_eq!(bad.part(AddressPart::All).as_deref(), Some("junk"));
        assert_eq!(bad.part(AddressPart::Domain), None);
    }

    #[test]
    fn envelope_addresses() {
        assert_eq!(parse_envelope_address(""), Address::Null);
        assert_eq!(parse_envelope_address("<>"), Address::Null);
        assert_eq!(
            parse_envelope_address("<tim@example.com>"),
            valid("tim", "example.com")
        );
        assert_eq!(
            parse_envelope_address("tim@example.com"),
            valid("tim", "example.com")
        );
        assert_eq!(
            parse_envelope_address("postmaster"),
            valid("postmaster", "")
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = parse_address_list(&s);
            let _ = parse_envelope_address(&s);
        }
    }
}
