//! A whitespace tokenizer that tracks line numbers, for the text formats.

use std::path::Path;

use crate::error::ParseError;

/// Whitespace-separated tokens of a text, each with its 1-based line.
pub(crate) struct Tokens<'a> {
    path: &'a Path,
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Tokens<'a> {
    /// Tokens of `text`, read from `path`.
    pub(crate) fn new(path: &'a Path, text: &'a str) -> Self {
        Tokens {
            path,
            text,
            pos: 0,
            line: 1,
        }
    }

    /// The line of the next token (or of the end of the text).
    pub(crate) fn line(&mut self) -> usize {
        self.skip_ws();
        self.line
    }

    /// Bytes not yet consumed: an upper bound on what the rest of the file can hold.
    pub(crate) fn remaining_bytes(&self) -> usize {
        self.text.len() - self.pos
    }

    fn skip_ws(&mut self) {
        let bytes = self.text.as_bytes();
        while self.pos < bytes.len() && bytes[self.pos].is_ascii_whitespace() {
            if bytes[self.pos] == b'\n' {
                self.line += 1;
            }
            self.pos += 1;
        }
    }

    /// The next token and its line, if any.
    pub(crate) fn next_token(&mut self) -> Option<(&'a str, usize)> {
        self.skip_ws();
        let bytes = self.text.as_bytes();
        if self.pos >= bytes.len() {
            return None;
        }
        let start = self.pos;
        while self.pos < bytes.len() && !bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        Some((&self.text[start..self.pos], self.line))
    }

    /// An error at the current line.
    pub(crate) fn error(&mut self, msg: impl Into<String>) -> ParseError {
        let line = self.line();
        ParseError::at(self.path, line, msg)
    }

    /// The next token, or an "unexpected end of file" error naming `what` was expected.
    pub(crate) fn expect(&mut self, what: &str) -> Result<(&'a str, usize), ParseError> {
        match self.next_token() {
            Some(t) => Ok(t),
            None => Err(self.error(format!("unexpected end of file, expected {what}"))),
        }
    }

    /// The next token as a finite or non-finite float (`nan`/`inf` are accepted and left to the
    /// caller to mark invalid).
    pub(crate) fn f64(&mut self, what: &str) -> Result<f64, ParseError> {
        let (tok, line) = self.expect(what)?;
        tok.parse::<f64>().map_err(|_| {
            ParseError::at(
                self.path,
                line,
                format!("expected {what}, found '{}'", clip(tok)),
            )
        })
    }

    /// The next token as a count no larger than `max`.
    pub(crate) fn count(&mut self, what: &str, max: usize) -> Result<usize, ParseError> {
        let (tok, line) = self.expect(what)?;
        let err = |m: String| ParseError::at(self.path, line, m);
        let v: i64 = tok.parse().map_err(|_| {
            err(format!(
                "expected {what} (an integer), found '{}'",
                clip(tok)
            ))
        })?;
        if v < 0 {
            return Err(err(format!("{what} is negative ({v})")));
        }
        if v as u64 > max as u64 {
            return Err(err(format!(
                "{what} {v} is more than the file can hold (at most {max})"
            )));
        }
        Ok(v as usize)
    }
}

/// A token shortened for error messages.
pub(crate) fn clip(tok: &str) -> String {
    if tok.chars().count() > 32 {
        format!("{}…", tok.chars().take(32).collect::<String>())
    } else {
        tok.to_string()
    }
}
