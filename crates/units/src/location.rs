//! Where a key sits in a TOML file, so that an error can name its line.
//!
//! The line comes from the TOML parser's spans (`toml_edit`, which the `toml` crate is
//! built on), never from a text search: a search finds the first `address =` of the file
//! when the error is in the third `[[listen]]` table, misses dotted keys
//! (`limits.idle_timeout = …`) and can be fooled by a comment or a multi-line string.
//!
//! The file is parsed again only when an error is reported, so a valid file costs nothing.
//! A path that is not (fully) in the file yields the line of the deepest part that is, e.g.
//! the `[auth]` header for an `auth` key left at its default; `None` when nothing is.

use std::fmt;
use std::ops::Range;

use toml_edit::{ImDocument, Item, Table, TableLike, Value};

/// One step from a table to a value inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// A key of the configuration's schema (`limits`, `idle_timeout`); shown in messages.
    Key(String),
    /// A key the file's author chose (a domain of `catch_all`, an account's name): used to
    /// find the line, left out of the dotted name because the message names it anyway.
    Entry(String),
    /// The n-th (from 0) table of an array of tables (`[[listen]]`) or element of an array.
    Index(usize),
}

/// A path to a value: `limits.idle_timeout`, or `address` in the second `[[listen]]` table
/// (`KeyPath::new("listen").index(1).key("address")`), which displays as `listen.address`:
/// the name as the file spells the key, with the line telling which table it is in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath {
    steps: Vec<Step>,
}

impl KeyPath {
    /// A path of schema keys written with dots, e.g. `"limits.idle_timeout"`; `""` is the
    /// top-level table. Only for bare keys (keys with a dot inside go through
    /// [`KeyPath::entry`]).
    pub fn new(dotted: &str) -> Self {
        Self {
            steps: dotted
                .split('.')
                .filter(|k| !k.is_empty())
                .map(|k| Step::Key(k.to_string()))
                .collect(),
        }
    }

    /// The schema key `key` inside this path.
    pub fn key(mut self, key: &str) -> Self {
        self.steps.push(Step::Key(key.to_string()));
        self
    }

    /// The author-chosen key `key` (spelled as in the file) inside this path.
    pub fn entry(mut self, key: &str) -> Self {
        self.steps.push(Step::Entry(key.to_string()));
        self
    }

    /// The `index`-th (from 0) table or element of the array at this path.
    pub fn index(mut self, index: usize) -> Self {
        self.steps.push(Step::Index(index));
        self
    }

    /// The 1-based line of `text` where the value at this path is written (its key, or the
    /// header of its table, or the element itself); see the module documentation.
    pub fn line_in(&self, text: &str) -> Option<usize> {
        let doc = ImDocument::parse(text).ok()?;
        let mut node = Node::Item(doc.as_item());
        let mut found: Option<Range<usize>> = None;
        for step in &self.steps {
            let next = match step {
                Step::Key(k) | Step::Entry(k) => node.child(k),
                Step::Index(i) => node.element(*i),
            };
            let Some((span, child)) = next else {
                break;
            };
            found = span.or(found);
            node = child;
        }
        found.map(|span| line_at(text, span.start))
    }
}

/// A path of schema keys written with dots (see [`KeyPath::new`]).
impl From<&str> for KeyPath {
    fn from(dotted: &str) -> Self {
        KeyPath::new(dotted)
    }
}

/// `limits.idle_timeout`, `listen.address`: the schema keys, dotted.
impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for step in &self.steps {
            if let Step::Key(k) = step {
                if !first {
                    f.write_str(".")?;
                }
                f.write_str(k)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// The 1-based line holding byte `offset` of `text` (the last line when `offset` is past
/// the end). Counts bytes, so any offset is safe.
pub fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A place in the parsed document that may hold keys or elements.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Table(&'a Table),
    Value(&'a Value),
}

type Found<'a> = Option<(Option<Range<usize>>, Node<'a>)>;

impl<'a> Node<'a> {
    fn table_like(self) -> Option<&'a dyn TableLike> {
        match self {
            Node::Item(i) => i.as_table_like(),
            Node::Table(t) => Some(t),
            Node::Value(v) => v.as_inline_table().map(|t| t as &dyn TableLike),
        }
    }

    /// The key `key` of a table or inline table: the key's span (for a `[table]` written
    /// with a header, the header's key).
    fn child(self, key: &str) -> Found<'a> {
        let (k, item) = self.table_like()?.get_key_value(key)?;
        Some((k.span().or_else(|| item.span()), Node::Item(item)))
    }

    /// The `index`-th table of an array of tables (its `[[…]]` header) or element of an
    /// array.
    fn element(self, index: usize) -> Found<'a> {
        let array = match self {
            Node::Item(Item::ArrayOfTables(a)) => {
                let t = a.get(index)?;
                return Some((t.span(), Node::Table(t)));
            }
            Node::Item(Item::Value(Value::Array(a))) | Node::Value(Value::Array(a)) => a,
            _ => return None,
        };
        let v = array.get(index)?;
        Some((v.span(), Node::Value(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTEN: &str = "\
# address = \"in a comment\"
hostname = \"mx\"

[[listen]]
address = \"127.0.0.1:110\"
protocol = \"pop3\"

[[listen]]
protocol = \"pop3s\"
address = \"nowhere\"

[[listen]]
address = \"unix:rel\"
protocol = \"lmtp\"
";

    #[test]
    fn array_of_tables_entries_name_their_own_line() {
        let at = |i: usize| KeyPath::new("listen").index(i).key("address");
        assert_eq!(at(0).line_in(LISTEN), Some(5));
        assert_eq!(at(1).line_in(LISTEN), Some(10));
        assert_eq!(at(2).line_in(LISTEN), Some(13));
        assert_eq!(at(1).to_string(), "listen.address");
        // A key the table lacks: its `[[listen]]` header.
        let mode = KeyPath::new("listen").index(1).key("mode");
        assert_eq!(mode.line_in(LISTEN), Some(8));
        // No such table: the array's first header is the deepest part found.
        assert_eq!(at(7).line_in(LISTEN), Some(4));
        assert_eq!(KeyPath::new("hostname").line_in(LISTEN), Some(2));
    }

    #[test]
    fn nested_dotted_and_inline_keys() {
        let text = "\
limits.idle_timeout = \"ten minutes\"
[delivery]
note = '''
catch_all = \"not here\"
'''
catch_all = { \"a.org\" = \"x\", \"B.org\" = \"y\" }
\"catch_all.x\" = 1
local_domains = [
  \"a.org\",
  \"b org\",
]
[auth]
apop = true
";
        let line = |p: KeyPath| p.line_in(text);
        assert_eq!(line(KeyPath::new("limits.idle_timeout")), Some(1));
        assert_eq!(line(KeyPath::new("delivery.catch_all")), Some(6));
        assert_eq!(
            line(KeyPath::new("delivery.catch_all").entry("B.org")),
            Some(6)
        );
        assert_eq!(line(KeyPath::new("delivery").entry("catch_all.x")), Some(7));
        assert_eq!(
            KeyPath::new("delivery.catch_all")
                .entry("B.org")
                .to_string(),
            "delivery.catch_all"
        );
        assert_eq!(
            line(KeyPath::new("delivery.local_domains").index(1)),
            Some(10)
        );
        // Left at its default: the section's header.
        assert_eq!(line(KeyPath::new("auth.cache_ttl")), Some(12));
        assert_eq!(line(KeyPath::new("auth.apop")), Some(13));
        assert_eq!(line(KeyPath::new("proxy.trusted_networks")), None);
        assert_eq!(line(KeyPath::new("x")), None);
        assert_eq!(KeyPath::new("x").line_in("not = = toml"), None);
    }

    #[test]
    fn table_headers_and_subtables() {
        let text = "[delivery]\nmax_recipients = 100\n\n[delivery.catch_all]\n\"example.org\" = \"postmaster\"\n";
        assert_eq!(
            KeyPath::new("delivery.catch_all")
                .entry("example.org")
                .line_in(text),
            Some(5)
        );
        assert_eq!(KeyPath::new("delivery.catch_all").line_in(text), Some(4));
        assert_eq!(
            KeyPath::new("delivery.max_recipients").line_in(text),
            Some(2)
        );
    }

    #[test]
    fn offsets_to_lines() {
        let text = "a = 1\r\nb = 2\nc";
        assert_eq!(line_at(text, 0), 1);
        assert_eq!(line_at(text, 6), 1);
        assert_eq!(line_at(text, 7), 2);
        assert_eq!(line_at(text, 13), 3);
        assert_eq!(line_at(text, 1000), 3);
        assert_eq!(line_at("ñ\nx", 1), 1);
        assert_eq!(line_at("", 0), 1);
    }
}
