//! RFC 5228 §2.7: comparators (`i;octet`, `i;ascii-casemap`, RFC 4790 §9.2/§9.3) and
//! match types (`:is`, `:contains`, `:matches`).
//!
//! Keys are prepared once, when the script is compiled. `:matches` uses an iterative
//! wildcard matcher that remembers only the last `*`, so a match costs at most
//! O(length of value × length of key) steps, never exponential time.

/// RFC 5228 §2.7.3 comparators. Both define a character as one octet (§2.7.1), so `?`
/// always matches exactly one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Comparator {
    /// `i;octet`: bytes compared as they are.
    Octet,
    /// `i;ascii-casemap` (the default): ASCII letters compared without regard to case,
    /// every other byte as it is.
    #[default]
    AsciiCasemap,
}

impl Comparator {
    /// The comparator registered under this name (RFC 4790), if Buzón has it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "i;octet" => Some(Comparator::Octet),
            "i;ascii-casemap" => Some(Comparator::AsciiCasemap),
            _ => None,
        }
    }

    fn fold(self, b: u8) -> u8 {
        match self {
            Comparator::Octet => b,
            Comparator::AsciiCasemap => b.to_ascii_lowercase(),
        }
    }
}

/// RFC 5228 §2.7.1 match types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatchType {
    /// `:is` (the default): the whole value equals the key.
    #[default]
    Is,
    /// `:contains`: the key occurs somewhere in the value.
    Contains,
    /// `:matches`: the key is a pattern where `*` matches any run of characters, `?`
    /// exactly one, and `\` makes the next character literal.
    Matches,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glob {
    Byte(u8),
    One,
    Any,
}

/// A key of a test, prepared for its comparator and match type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    /// The key's bytes, folded by the comparator (for `:is` and `:contains`).
    folded: Vec<u8>,
    /// The parsed pattern (for `:matches`), literal bytes folded.
    glob: Vec<Glob>,
}

/// How a test compares values with its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Matcher {
    pub(crate) comparator: Comparator,
    pub(crate) match_type: MatchType,
    pub(crate) keys: Vec<Key>,
}

impl Matcher {
    pub(crate) fn new(comparator: Comparator, match_type: MatchType, keys: &[String]) -> Self {
        let keys = keys
            .iter()
            .map(|k| {
                let folded: Vec<u8> = k.bytes().map(|b| comparator.fold(b)).collect();
                let glob = if match_type == MatchType::Matches {
                    parse_glob(&folded)
                } else {
                    Vec::new()
                };
                Key { folded, glob }
            })
            .collect();
        Matcher {
            comparator,
            match_type,
            keys,
        }
    }

    /// True when `value` matches any of the keys.
    pub(crate) fn matches(&self, value: &str) -> bool {
        let value: Vec<u8> = value.bytes().map(|b| self.comparator.fold(b)).collect();
        self.keys.iter().any(|k| match self.match_type {
            MatchType::Is => value == k.folded,
            MatchType::Contains => contains(&value, &k.folded),
            MatchType::Matches => glob_match(&k.glob, &value),
        })
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn parse_glob(key: &[u8]) -> Vec<Glob> {
    let mut out = Vec::with_capacity(key.len());
    let mut it = key.iter();
    while let Some(&b) = it.next() {
        match b {
            b'*' => {
                // Runs of `*` match the same as one.
                if out.last() != Some(&Glob::Any) {
                    out.push(Glob::Any);
                }
            }
            b'?' => out.push(Glob::One),
            // A trailing lone backslash stands for itself.
            b'\\' => out.push(Glob::Byte(it.next().copied().unwrap_or(b'\\'))),
            b => out.push(Glob::Byte(b)),
        }
    }
    out
}

/// Wildcard match over bytes. On a mismatch it returns to the most recent `*` and lets it
/// swallow one more byte; earlier stars never need revisiting, which bounds the work.
fn glob_match(pattern: &[Glob], value: &[u8]) -> bool {
    let (mut p, mut v) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        match pattern.get(p) {
            Some(Glob::Any) => {
                star = Some((p + 1, v));
                p += 1;
                continue;
            }
            Some(Glob::One) => {
                p += 1;
                v += 1;
                continue;
            }
            Some(Glob::Byte(b)) if *b == value[v] => {
                p += 1;
                v += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((after, taken)) => {
                p = after;
                v = taken + 1;
                star = Some((after, taken + 1));
            }
            None => return false,
        }
    }
    pattern[p.min(pattern.len())..]
        .iter()
        .all(|g| *g == Glob::Any)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(cmp: Comparator, mt: MatchType, key: &str, value: &str) -> bool {
        Matcher::new(cmp, mt, &[key.to_owned()]).matches(value)
    }

    use Comparator::{AsciiCasemap as Case, Octet};
    use MatchType::{Contains, Is, Matches};

    /// (comparator, match type, key, value, expected)
    const TABLE: &[(Comparator, MatchType, &str, &str, bool)] = &[
        (Case, Is, "Frobnitzm", "frobnitzm", true),
        (Octet, Is, "Frobnitzm", "frobnitzm", false),
        (Octet, Is, "frobnitzm", "frobnitzm", true),
        (Case, Is, "", "", true),
        (Case, Is, "", "x", false),
        (Case, Is, "ÄB", "äb", false), // only ASCII letters fold
        (Case, Is, "ÄB", "Äb", true),
        (Case, Contains, "", "anything", true),
        (Case, Contains, "", "", true),
        (Case, Contains, "MONEY", "make money fast", true),
        (Octet, Contains, "MONEY", "make money fast", false),
        (Octet, Contains, "MONEY FAST", "MAKE MONEY FAST", true),
        (
            Case,
            Contains,
            "$$$",
            "$$$ YOU, TOO, CAN BE A MILLIONAIRE! $$$",
            true,
        ),
        (Case, Contains, "longer than value", "short", false),
        (Case, Matches, "*", "", true),
        (Case, Matches, "*", "anything", true),
        (Case, Matches, "?", "", false),
        (Case, Matches, "?*", "", false),
        (Case, Matches, "?*", "x", true),
        (
            Case,
            Matches,
            "*make*money*fast*",
            "Hey, MAKE lots of MONEY FAST!",
            true,
        ),
        (Case, Matches, "*make*money*fast*", "fast money make", false),
        (
            Case,
            Matches,
            "*university*dipl*mas*",
            "University diplomas for you",
            true,
        ),
        (Case, Matches, "a?c", "abc", true),
        (Case, Matches, "a?c", "ac", false),
        (Case, Matches, "a?c", "abbc", false),
        (Case, Matches, "a*c", "ac", true),
        (Case, Matches, "a*c", "abcbc", true),
        (Case, Matches, "a*c", "abcb", false),
        (Case, Matches, "*.example.com", "mx.EXAMPLE.com", true),
        (Octet, Matches, "*.example.com", "mx.EXAMPLE.com", false),
        (Case, Matches, "abc", "abcd", false),
        (Case, Matches, "abc", "ab", false),
        (Case, Matches, "\\*", "*", true),
        (Case, Matches, "\\*", "x", false),
        (Case, Matches, "\\?", "?", true),
        (Case, Matches, "\\?", "x", false),
        (Case, Matches, "a\\\\b", "a\\b", true),
        (Case, Matches, "a\\b", "ab", true), // "\b" is just "b"
        (Case, Matches, "end\\", "end\\", true),
        (Case, Matches, "**a**", "xxaxx", true),
        (
            Case,
            Matches,
            "*a*b",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaac",
            false,
        ),
        // `?` is one octet under both comparators (RFC 5228 §2.7.1): "é" is two.
        (Case, Matches, "?", "é", false),
        (Case, Matches, "??", "é", true),
        (Octet, Matches, "??", "é", true),
    ];

    #[test]
    fn comparator_and_match_type_table() {
        for &(cmp, mt, key, value, want) in TABLE {
            assert_eq!(
                m(cmp, mt, key, value),
                want,
                "{cmp:?} {mt:?} {key:?} {value:?}"
            );
        }
    }

    #[test]
    fn any_key_of_several_matches() {
        let keys = ["nope".to_owned(), "coyote".to_owned()];
        let m = Matcher::new(Comparator::AsciiCasemap, MatchType::Contains, &keys);
        assert!(m.matches("Wile E. Coyote"));
        assert!(!m.matches("roadrunner"));
    }

    #[test]
    fn comparator_names() {
        assert_eq!(Comparator::from_name("i;octet"), Some(Comparator::Octet));
        assert_eq!(
            Comparator::from_name("I;ASCII-CASEMAP"),
            Some(Comparator::AsciiCasemap)
        );
        assert_eq!(Comparator::from_name("i;ascii-numeric"), None);
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        // Exponential backtracking would never finish on this; the iterative matcher
        // does at most len(value) × len(pattern) steps.
        let pattern = "*a".repeat(200) + "b";
        let value = "a".repeat(20_000);
        assert!(!m(Case, Matches, &pattern, &value));
    }

    proptest::proptest! {
        #[test]
        fn star_matches_what_contains_finds(needle in "[a-c]{0,4}", hay in "[a-c]{0,12}") {
            let pattern = format!("*{needle}*");
            proptest::prop_assert_eq!(
                m(Case, Matches, &pattern, &hay),
                m(Case, Contains, &needle, &hay)
            );
        }

        #[test]
        fn literal_pattern_is_equality(a in "[a-cA-C?*]{0,6}", b in "[a-cA-C?*]{0,6}") {
            let escaped: String = a.chars().flat_map(|c| match c {
                '*' | '?' => vec!['\\', c],
                c => vec![c],
            }).collect();
            proptest::prop_assert_eq!(m(Case, Matches, &escaped, &b), m(Case, Is, &a, &b));
        }
    }
}
