//! RFC 5228 §8.2 grammar: commands, arguments, tests, test lists and blocks, into a
//! syntax tree that knows nothing yet about which commands exist. [`crate::compile`]
//! gives the tree its meaning.
//!
//! Recursion is bounded by [`crate::MAX_NESTING`] so that no script, however deep, can
//! exhaust the stack.

use crate::error::{CompileError, Pos};
use crate::lexer::{Tok, Token};
use crate::MAX_NESTING;

/// `command = identifier arguments (";" / block)`.
#[derive(Debug, Clone)]
pub(crate) struct CommandNode {
    pub(crate) name: String,
    pub(crate) pos: Pos,
    pub(crate) args: Vec<Argument>,
    pub(crate) tests: Option<Tests>,
    /// `None` when the command ended with `;`.
    pub(crate) block: Option<Vec<CommandNode>>,
    /// Where the `;` or the block's `{` is, for messages about it.
    pub(crate) end_pos: Pos,
}

/// `test = identifier arguments`.
#[derive(Debug, Clone)]
pub(crate) struct TestNode {
    pub(crate) name: String,
    pub(crate) pos: Pos,
    pub(crate) args: Vec<Argument>,
    pub(crate) tests: Option<Tests>,
}

/// The trailing `test / test-list` of `arguments`.
#[derive(Debug, Clone)]
pub(crate) enum Tests {
    Single(Box<TestNode>),
    /// A parenthesised list; the position is that of `(`.
    List(Vec<TestNode>, Pos),
}

#[derive(Debug, Clone)]
pub(crate) struct Argument {
    pub(crate) value: ArgValue,
    pub(crate) pos: Pos,
}

#[derive(Debug, Clone)]
pub(crate) enum ArgValue {
    Tag(String),
    Number(u64),
    /// A string or a string list; `bracketed` tells `"a"` from `["a"]`.
    Strings {
        items: Vec<(String, Pos)>,
        bracketed: bool,
    },
}

struct Parser {
    toks: Vec<Token>,
    at: usize,
}

/// Parses a whole token stream (`start = commands`).
pub(crate) fn parse(toks: Vec<Token>) -> Result<Vec<CommandNode>, CompileError> {
    let mut p = Parser { toks, at: 0 };
    let commands = p.commands(0)?;
    let t = p.peek();
    match t.tok {
        Tok::Eof => Ok(commands),
        Tok::RBrace => Err(CompileError::new(
            t.pos,
            buzon_i18n::t!("sieve-unmatched-brace"),
        )),
        _ => Err(CompileError::new(
            t.pos,
            buzon_i18n::t!("sieve-expected-command-found", found = t.tok.describe()),
        )),
    }
}

impl Parser {
    fn peek(&self) -> &Token {
        // The stream always ends with Eof and the parser never moves past it.
        &self.toks[self.at.min(self.toks.len().saturating_sub(1))]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::Eof {
            self.at += 1;
        }
        t
    }

    fn nesting(&self, depth: usize, pos: Pos) -> Result<(), CompileError> {
        if depth > MAX_NESTING {
            Err(CompileError::new(
                pos,
                buzon_i18n::t!("sieve-nested-too-deeply", max = MAX_NESTING),
            ))
        } else {
            Ok(())
        }
    }

    /// `commands = *command`, stopping before `}` or the end.
    fn commands(&mut self, depth: usize) -> Result<Vec<CommandNode>, CompileError> {
        let mut out = Vec::new();
        loop {
            let t = self.peek().clone();
            match t.tok {
                Tok::Ident(_) => out.push(self.command(depth)?),
                Tok::Eof | Tok::RBrace => return Ok(out),
                other => {
                    return Err(CompileError::new(
                        t.pos,
                        buzon_i18n::t!("sieve-expected-command-found", found = other.describe()),
                    ))
                }
            }
        }
    }

    fn command(&mut self, depth: usize) -> Result<CommandNode, CompileError> {
        let head = self.next();
        let Tok::Ident(name) = head.tok else {
            return Err(CompileError::new(
                head.pos,
                buzon_i18n::t!("sieve-expected-command"),
            ));
        };
        let args = self.arguments()?;
        let tests = self.tests(depth + 1)?;
        let t = self.next();
        match t.tok {
            Tok::Semicolon => Ok(CommandNode {
                name,
                pos: head.pos,
                args,
                tests,
                block: None,
                end_pos: t.pos,
            }),
            Tok::LBrace => {
                self.nesting(depth + 1, t.pos)?;
                let block = self.commands(depth + 1)?;
                let close = self.next();
                if close.tok != Tok::RBrace {
                    return Err(CompileError::new(
                        t.pos,
                        buzon_i18n::t!("sieve-block-never-closed"),
                    ));
                }
                Ok(CommandNode {
                    name,
                    pos: head.pos,
                    args,
                    tests,
                    block: Some(block),
                    end_pos: t.pos,
                })
            }
            other => Err(CompileError::new(
                t.pos,
                format!(
                    "{}{}",
                    buzon_i18n::t!(
                        "sieve-expected-semicolon",
                        name = name.as_str(),
                        found = other.describe()
                    ),
                    if matches!(other, Tok::Ident(_) | Tok::RBrace | Tok::Eof) {
                        buzon_i18n::t!("sieve-semicolon-missing")
                    } else {
                        String::new()
                    }
                ),
            )),
        }
    }

    /// `*argument`, where `argument = string-list / number / tag`.
    fn arguments(&mut self) -> Result<Vec<Argument>, CompileError> {
        let mut out = Vec::new();
        loop {
            let t = self.peek().clone();
            let value = match t.tok {
                Tok::Tag(name) => {
                    self.next();
                    ArgValue::Tag(name)
                }
                Tok::Number(n) => {
                    self.next();
                    ArgValue::Number(n)
                }
                Tok::Str(s) => {
                    self.next();
                    ArgValue::Strings {
                        items: vec![(s, t.pos)],
                        bracketed: false,
                    }
                }
                Tok::LBracket => {
                    self.next();
                    ArgValue::Strings {
                        items: self.string_list(t.pos)?,
                        bracketed: true,
                    }
                }
                _ => return Ok(out),
            };
            out.push(Argument { value, pos: t.pos });
        }
    }

    /// `"[" string *("," string) "]"`, after the `[`.
    fn string_list(&mut self, open: Pos) -> Result<Vec<(String, Pos)>, CompileError> {
        let mut items = Vec::new();
        loop {
            let t = self.next();
            match t.tok {
                Tok::Str(s) => items.push((s, t.pos)),
                Tok::RBracket if items.is_empty() => {
                    return Err(CompileError::new(
                        open,
                        buzon_i18n::t!("sieve-empty-string-list"),
                    ))
                }
                other => {
                    return Err(CompileError::new(
                        t.pos,
                        buzon_i18n::t!("sieve-expected-string-in-list", found = other.describe()),
                    ))
                }
            }
            let t = self.next();
            match t.tok {
                Tok::Comma => {}
                Tok::RBracket => return Ok(items),
                other => {
                    return Err(CompileError::new(
                        t.pos,
                        buzon_i18n::t!(
                            "sieve-expected-comma-bracket",
                            open = open.to_string(),
                            found = other.describe()
                        ),
                    ))
                }
            }
        }
    }

    /// The optional `test / test-list` that ends `arguments`.
    fn tests(&mut self, depth: usize) -> Result<Option<Tests>, CompileError> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Ident(_) => {
                self.nesting(depth, t.pos)?;
                Ok(Some(Tests::Single(Box::new(self.test(depth)?))))
            }
            Tok::LParen => {
                self.nesting(depth, t.pos)?;
                self.next();
                let mut list = Vec::new();
                loop {
                    let head = self.peek().clone();
                    if !matches!(head.tok, Tok::Ident(_)) {
                        return Err(CompileError::new(
                            head.pos,
                            buzon_i18n::t!(
                                "sieve-expected-test-found",
                                found = head.tok.describe()
                            ),
                        ));
                    }
                    list.push(self.test(depth)?);
                    let sep = self.next();
                    match sep.tok {
                        Tok::Comma => {}
                        Tok::RParen => return Ok(Some(Tests::List(list, t.pos))),
                        other => {
                            return Err(CompileError::new(
                                sep.pos,
                                buzon_i18n::t!(
                                    "sieve-expected-comma-paren",
                                    open = t.pos.to_string(),
                                    found = other.describe()
                                ),
                            ))
                        }
                    }
                }
            }
            _ => Ok(None),
        }
    }

    fn test(&mut self, depth: usize) -> Result<TestNode, CompileError> {
        let head = self.next();
        let Tok::Ident(name) = head.tok else {
            return Err(CompileError::new(
                head.pos,
                buzon_i18n::t!("sieve-expected-test"),
            ));
        };
        let args = self.arguments()?;
        let tests = self.tests(depth + 1)?;
        Ok(TestNode {
            name,
            pos: head.pos,
            args,
            tests,
        })
    }
}
