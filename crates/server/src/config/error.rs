//! The configuration error, phrased for the person who edits the file: the file, the line,
//! the key, what is wrong and how to fix it.
//!
//! Lines come from the TOML parser's spans ([`buzon_units::location`]), so an error in the
//! third `[[listen]]` table names that table's line, and a dotted key
//! (`limits.idle_timeout = …`) or an entry of a sub-table has its line too.

use std::path::PathBuf;

use buzon_units::location::KeyPath;

/// A configuration problem, phrased for the person who edits the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}", buzon_i18n::t!("config-cannot-read", path = path.display().to_string(), reason = source.to_string()))]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{path}{line}: `{key}` {problem} — {fix}")]
    Invalid {
        path: String,
        line: LineRef,
        key: String,
        problem: String,
        fix: String,
    },
}

/// "line N" where the offending key is, when it can be found.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineRef(pub Option<usize>);

impl std::fmt::Display for LineRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(n) => f.write_str(&buzon_i18n::t!("config-line", line = n)),
            None => Ok(()),
        }
    }
}

impl ConfigError {
    /// A TOML syntax or type error, on one line: the line where the parser stopped, then
    /// what it found. An unknown key (the usual typo) is worded in the user's language;
    /// other parser messages stay as the TOML parser words them.
    pub(super) fn syntax(origin: &str, text: &str, e: &toml::de::Error) -> ConfigError {
        let line = e
            .span()
            .and_then(|r| text.get(..r.start))
            .map(|before| before.matches('\n').count() + 1);
        let message = e.message().trim();
        let message = match message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once('`'))
        {
            Some((field, rest)) => {
                // A quoted key may hold line breaks and other control characters.
                let field = &printable(field);
                let expected = rest
                    .trim_start_matches(',')
                    .trim()
                    .strip_prefix("expected one of ")
                    .or_else(|| {
                        rest.trim_start_matches(',')
                            .trim()
                            .strip_prefix("expected ")
                    })
                    .unwrap_or("")
                    .to_string();
                if expected.is_empty() {
                    buzon_i18n::t!("config-unknown-key", key = field)
                } else {
                    buzon_i18n::t!(
                        "config-unknown-key-expected",
                        key = field,
                        expected = expected
                    )
                }
            }
            None => one_line(message),
        };
        ConfigError::Syntax {
            path: format!("{origin}{}", LineRef(line)),
            message,
        }
    }
}

/// `s` with its control characters written as escapes (`\n`), so it stays on one line.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn one_line(s: &str) -> String {
    // toml's messages span several lines with a source excerpt; keep the first line and
    // the message proper.
    let lines: Vec<&str> = s
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|'))
        .collect();
    lines.join(" ").replace("  ", " ")
}

/// What validation needs to word an error: the file's name and its text (for the lines).
pub(super) struct Ctx<'a> {
    pub(super) origin: &'a str,
    pub(super) text: &'a str,
}

impl Ctx<'_> {
    /// The error for the value at `at`: a dotted key such as `"limits.idle_timeout"`, or a
    /// [`KeyPath`] into an array of tables or a sub-table.
    pub(super) fn err(
        &self,
        at: impl Into<KeyPath>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> ConfigError {
        let at = at.into();
        ConfigError::Invalid {
            path: self.origin.to_string(),
            line: LineRef(at.line_in(self.text)),
            key: at.to_string(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}
