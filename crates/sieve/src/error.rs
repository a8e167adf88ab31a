//! The compile error: where in the script (line and column, both from 1) and what is
//! wrong, phrased so that the script's author can fix it.

use std::fmt;

/// A position in a script: line and column, both counted from 1. Columns count
/// characters (Unicode scalar values), not bytes, so they match what an editor shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// Line number, from 1.
    pub line: u32,
    /// Column number in characters, from 1.
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&buzon_i18n::t!(
            "sieve-pos",
            line = self.line,
            column = self.column
        ))
    }
}

/// A script that cannot be run: a syntax error (RFC 5228 §8), a misuse of a command or
/// test (wrong arguments, missing `require`), or something Buzón refuses on purpose
/// (`redirect`, `vacation`, unknown extensions). Displayed as `line L:C: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Line of the offending token, from 1.
    pub line: u32,
    /// Column of the offending token in characters, from 1.
    pub column: u32,
    /// What is wrong and, where there is one, how to fix it, in the language current when
    /// the script was compiled (`buzon_i18n::set_current`; English by default).
    pub message: String,
}

impl CompileError {
    pub(crate) fn new(pos: Pos, message: impl Into<String>) -> Self {
        CompileError {
            line: pos.line,
            column: pos.column,
            message: message.into(),
        }
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = Pos {
            line: self.line,
            column: self.column,
        };
        write!(f, "{at}: {}", self.message)
    }
}

impl std::error::Error for CompileError {}
