//! RFC 5228 §8.1 lexical tokens: identifiers, tags, numbers with K/M/G quantifiers,
//! quoted and multi-line strings, punctuation; comments and white space are skipped.
//!
//! Every token carries the position of its first character, and every lexical error names
//! the position where the faulty token starts. Line ends may be CRLF (as the RFC says) or
//! bare LF (as scripts written on Unix have them); both count as one line break.

use crate::error::{CompileError, Pos};

/// One lexical token (RFC 5228 §8.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// An identifier, lower-cased: identifiers are case-insensitive (RFC 5228 §8.2).
    Ident(String),
    /// A tag (`:name`), lower-cased, without the colon.
    Tag(String),
    /// A number with its quantifier applied (RFC 5228 §2.4.1).
    Number(u64),
    /// A quoted or multi-line string, escapes and dot-stuffing removed (§2.4.2).
    Str(String),
    LBracket,
    RBracket,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Semicolon,
    Eof,
}

impl Tok {
    /// How the token is named in error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Tag(s) => format!("`:{s}`"),
            Tok::Number(n) => buzon_i18n::t!("sieve-tok-number", number = n.to_string()),
            Tok::Str(_) => buzon_i18n::t!("sieve-tok-string"),
            Tok::LBracket => "`[`".to_owned(),
            Tok::RBracket => "`]`".to_owned(),
            Tok::LParen => "`(`".to_owned(),
            Tok::RParen => "`)`".to_owned(),
            Tok::LBrace => "`{`".to_owned(),
            Tok::RBrace => "`}`".to_owned(),
            Tok::Comma => "`,`".to_owned(),
            Tok::Semicolon => "`;`".to_owned(),
            Tok::Eof => buzon_i18n::t!("sieve-tok-eof"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) pos: Pos,
}

struct Lexer<'a> {
    src: &'a str,
    /// Byte offset of the next character.
    at: usize,
    line: u32,
    column: u32,
}

/// Splits a whole script into tokens, ending with [`Tok::Eof`].
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, CompileError> {
    let mut lx = Lexer {
        src,
        at: 0,
        line: 1,
        column: 1,
    };
    let mut out = Vec::new();
    loop {
        lx.skip_white_space()?;
        let pos = lx.pos();
        let Some(c) = lx.peek() else {
            out.push(Token { tok: Tok::Eof, pos });
            return Ok(out);
        };
        let tok = match c {
            '[' | ']' | '(' | ')' | '{' | '}' | ',' | ';' => {
                lx.bump();
                match c {
                    '[' => Tok::LBracket,
                    ']' => Tok::RBracket,
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '{' => Tok::LBrace,
                    '}' => Tok::RBrace,
                    ',' => Tok::Comma,
                    _ => Tok::Semicolon,
                }
            }
            '"' => Tok::Str(lx.quoted_string(pos)?),
            ':' => {
                lx.bump();
                match lx.peek() {
                    Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                        Tok::Tag(lx.identifier().to_ascii_lowercase())
                    }
                    _ => {
                        return Err(CompileError::new(
                            pos,
                            buzon_i18n::t!("sieve-colon-needs-tag"),
                        ))
                    }
                }
            }
            c if c.is_ascii_digit() => Tok::Number(lx.number(pos)?),
            c if c.is_ascii_alphabetic() || c == '_' => {
                let ident = lx.identifier().to_ascii_lowercase();
                if ident == "text" && lx.peek() == Some(':') {
                    lx.bump();
                    Tok::Str(lx.multi_line(pos)?)
                } else {
                    Tok::Ident(ident)
                }
            }
            other => {
                return Err(CompileError::new(
                    pos,
                    buzon_i18n::t!("sieve-unexpected-char", character = format!("{other:?}")),
                ))
            }
        };
        out.push(Token { tok, pos });
    }
}

impl<'a> Lexer<'a> {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&self) -> Option<char> {
        self.src[self.at..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.src[self.at..].chars();
        it.next();
        it.next()
    }

    fn rest(&self) -> &'a str {
        &self.src[self.at..]
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.column = 1;
        } else {
            self.column = self.column.saturating_add(1);
        }
        Some(c)
    }

    /// RFC 5228 §2.2 and §2.3: spaces, tabs, line breaks, `#` and `/* */` comments.
    fn skip_white_space(&mut self) -> Result<(), CompileError> {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' => {
                    self.bump();
                }
                '#' => self.skip_to_line_end(),
                '/' if self.peek2() == Some('*') => {
                    let start = self.pos();
                    self.bump();
                    self.bump();
                    loop {
                        if self.rest().starts_with("*/") {
                            self.bump();
                            self.bump();
                            break;
                        }
                        if self.bump().is_none() {
                            return Err(CompileError::new(
                                start,
                                buzon_i18n::t!("sieve-unterminated-comment"),
                            ));
                        }
                    }
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// Skips up to and including the next line break (or to the end of the script).
    fn skip_to_line_end(&mut self) {
        while let Some(c) = self.bump() {
            if c == '\n' {
                break;
            }
        }
    }

    fn identifier(&mut self) -> &'a str {
        let start = self.at;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                self.bump();
            } else {
                break;
            }
        }
        &self.src[start..self.at]
    }

    /// RFC 5228 §2.4.1: `1*DIGIT [ "K" / "M" / "G" ]`.
    fn number(&mut self, pos: Pos) -> Result<u64, CompileError> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        let digits = &self.src[start..self.at];
        let multiplier: u64 = match self.peek() {
            Some('k' | 'K') => 1 << 10,
            Some('m' | 'M') => 1 << 20,
            Some('g' | 'G') => 1 << 30,
            _ => 1,
        };
        if multiplier != 1 {
            self.bump();
        }
        if self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            let tail = self.identifier();
            return Err(CompileError::new(
                pos,
                buzon_i18n::t!(
                    "sieve-invalid-number",
                    number = &self.src
                        [start..start + digits.len() + (multiplier != 1) as usize + tail.len()]
                ),
            ));
        }
        digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(multiplier))
            .ok_or_else(|| {
                CompileError::new(
                    pos,
                    buzon_i18n::t!("sieve-number-too-large", max = u64::MAX.to_string()),
                )
            })
    }

    /// RFC 5228 §2.4.2: a quoted string. `\"` and `\\` are the defined escapes; any other
    /// backslash is dropped and the character after it kept ("\a" is "a").
    fn quoted_string(&mut self, pos: Pos) -> Result<String, CompileError> {
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some(c) => out.push(c),
                    None => break,
                },
                Some(c) => out.push(c),
                None => break,
            }
        }
        Err(CompileError::new(
            pos,
            buzon_i18n::t!("sieve-unterminated-string"),
        ))
    }

    /// RFC 5228 §2.4.2: `text:` up to a line holding only `.`. A leading `.` of any other
    /// line is removed (dot-unstuffing). Every line of the value ends with CRLF.
    fn multi_line(&mut self, pos: Pos) -> Result<String, CompileError> {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
        match self.peek() {
            Some('#') => self.skip_to_line_end(),
            Some('\n') => {
                self.bump();
            }
            Some('\r') if self.peek2() == Some('\n') => {
                self.bump();
                self.bump();
            }
            _ => {
                return Err(CompileError::new(
                    pos,
                    buzon_i18n::t!("sieve-text-needs-line-break"),
                ))
            }
        }
        let mut out = String::new();
        loop {
            let rest = self.rest();
            let Some(nl) = rest.find('\n') else {
                return Err(CompileError::new(
                    pos,
                    buzon_i18n::t!("sieve-unterminated-text"),
                ));
            };
            let line = &rest[..nl];
            let line = line.strip_suffix('\r').unwrap_or(line);
            // Consume the line and its break, keeping the position right.
            for _ in 0..rest[..=nl].chars().count() {
                self.bump();
            }
            if line == "." {
                return Ok(out);
            }
            out.push_str(line.strip_prefix('.').unwrap_or(line));
            out.push_str("\r\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        match tokenize(src) {
            Ok(t) => t.into_iter().map(|t| t.tok).collect(),
            Err(e) => panic!("{src:?}: {e}"),
        }
    }

    fn err(src: &str) -> String {
        match tokenize(src) {
            Ok(t) => panic!("{src:?} lexed: {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn numbers_and_quantifiers() {
        assert_eq!(
            toks("0 1 100k 100K 2M 3g"),
            vec![
                Tok::Number(0),
                Tok::Number(1),
                Tok::Number(102_400),
                Tok::Number(102_400),
                Tok::Number(2 << 20),
                Tok::Number(3 << 30),
                Tok::Eof
            ]
        );
        assert_eq!(
            err("size :over 10KB"),
            "line 1:12: invalid number `10KB`: a number is digits optionally followed by K, M or G (as in 100K)"
        );
        assert!(err("99999999999999999999").starts_with("line 1:1: number too large"));
        assert!(err("17179869184G").starts_with("line 1:1: number too large"));
    }

    #[test]
    fn quoted_strings_and_escapes() {
        assert_eq!(
            toks(
                r#""a\"b\\c\d" "" "x
y""#
            ),
            vec![
                Tok::Str("a\"b\\cd".into()),
                Tok::Str(String::new()),
                Tok::Str("x\ny".into()),
                Tok::Eof
            ]
        );
        assert_eq!(
            err("keep;\n  \"abc"),
            "line 2:3: unterminated string: this `\"` has no closing `\"`"
        );
        assert!(err("\"abc\\").starts_with("line 1:1: unterminated string"));
    }

    #[test]
    fn multi_line_strings() {
        let src = "reject text: # why\r\nline one\r\n..dot\r\n.x\r\n\r\n.\r\n;";
        assert_eq!(
            toks(src),
            vec![
                Tok::Ident("reject".into()),
                Tok::Str("line one\r\n.dot\r\nx\r\n\r\n".into()),
                Tok::Semicolon,
                Tok::Eof
            ]
        );
        // Bare LF line ends, TEXT: in upper case, spaces before the line break.
        assert_eq!(
            toks("TEXT:  \nhi\n.\n"),
            vec![Tok::Str("hi\r\n".into()), Tok::Eof]
        );
        assert_eq!(toks("text:\n.\n"), vec![Tok::Str(String::new()), Tok::Eof]);
        assert!(
            err("text: hi\n.\n").starts_with("line 1:1: `text:` must be followed by a line break")
        );
        assert_eq!(
            err("\n text:\nabc\n. \n"),
            "line 2:2: unterminated multi-line string: end it with a line holding only `.`"
        );
    }

    #[test]
    fn comments() {
        assert_eq!(
            toks("# c\nkeep /* a * b\n ** */ ; # end"),
            vec![Tok::Ident("keep".into()), Tok::Semicolon, Tok::Eof]
        );
        assert_eq!(
            err("keep;\n /* never closed"),
            "line 2:2: unterminated comment: this `/*` has no matching `*/`"
        );
    }

    #[test]
    fn identifiers_tags_and_positions() {
        let t = tokenize("IF Header :IS\n  [\"a\",\"b\"] {}").unwrap_or_default();
        let got: Vec<(Tok, u32, u32)> = t
            .into_iter()
            .map(|t| (t.tok, t.pos.line, t.pos.column))
            .collect();
        assert_eq!(
            got,
            vec![
                (Tok::Ident("if".into()), 1, 1),
                (Tok::Ident("header".into()), 1, 4),
                (Tok::Tag("is".into()), 1, 11),
                (Tok::LBracket, 2, 3),
                (Tok::Str("a".into()), 2, 4),
                (Tok::Comma, 2, 7),
                (Tok::Str("b".into()), 2, 8),
                (Tok::RBracket, 2, 11),
                (Tok::LBrace, 2, 13),
                (Tok::RBrace, 2, 14),
                (Tok::Eof, 2, 15),
            ]
        );
        assert_eq!(
            err("if header : is"),
            "line 1:11: `:` must be followed by a tag name, as in `:is` or `:contains`"
        );
        assert_eq!(
            err("keep;\n\"é\" @"),
            "line 2:5: unexpected character '@': Sieve has no such token"
        );
    }
}
