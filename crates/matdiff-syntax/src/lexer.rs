//! Lexer: turns source text into spanned tokens on demand, stopping at the first bad character.

use crate::error::{Error, Input, Span};

/// What a token is; identifiers and numbers keep their text in the source, under the span.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Tok {
    Num(f64),
    Ident,
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    DotStar,
    DotSlash,
    DotCaret,
    /// Postfix transpose: `'` (or MATLAB's `.'`, the same thing for real matrices).
    Quote,
    LParen,
    RParen,
    Comma,
    Semi,
    Colon,
    Eq,
    /// A line break: it ends a statement at the top level, and is skipped elsewhere.
    Newline,
    Eof,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub span: Span,
}

impl Token {
    /// How the token reads in an error message: "`)`", "end of input", "a line break".
    pub fn describe(&self, src: &str) -> String {
        match self.kind {
            Tok::Eof => "end of input".to_string(),
            Tok::Newline => "a line break".to_string(),
            _ => format!("`{}`", src.get(self.span.start..self.span.end).unwrap_or("?")),
        }
    }

    /// Whether this token can start an operand; used to suggest `*` for implicit products.
    pub fn starts_atom(&self) -> bool {
        matches!(self.kind, Tok::Num(_) | Tok::Ident | Tok::LParen)
    }
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// End of the last token that is not a line break, so "end of input" errors point just
    /// after the last thing the user wrote rather than at trailing blank lines or comments.
    last_end: usize,
    input: Input,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str, input: Input) -> Self {
        Lexer { src, pos: 0, last_end: 0, input }
    }

    /// The next token; `Eof` forever once the input is exhausted.
    pub fn next_token(&mut self) -> Result<Token, Error> {
        self.skip_trivia();
        let start = self.pos;
        let Some(c) = self.peek_char(0) else {
            let at = Span::new(self.last_end, self.last_end);
            return Ok(Token { kind: Tok::Eof, span: at });
        };
        let kind = match c {
            '\n' => {
                self.pos += 1;
                return Ok(Token { kind: Tok::Newline, span: Span::new(start, self.pos) });
            }
            '0'..='9' => self.number()?,
            '.' if self.peek_char(1).is_some_and(|d| d.is_ascii_digit()) => self.number()?,
            '.' => self.dot_operator()?,
            'a'..='z' | 'A'..='Z' | '_' => {
                self.eat_while(|c| c.is_ascii_alphanumeric() || c == '_');
                Tok::Ident
            }
            '*' if self.peek_char(1) == Some('*') => {
                return Err(self
                    .error(start, start + 2, "`**` is not an operator")
                    .with_label("not an operator")
                    .with_note("write `^` for a power, e.g. `x^2`"));
            }
            _ => self.punct(c)?,
        };
        self.last_end = self.pos;
        Ok(Token { kind, span: Span::new(start, self.pos) })
    }

    fn peek_char(&self, n: usize) -> Option<char> {
        self.src.get(self.pos..)?.chars().nth(n)
    }

    fn eat_while(&mut self, keep: impl Fn(char) -> bool) {
        while let Some(c) = self.peek_char(0) {
            if !keep(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    /// Spaces, tabs, carriage returns and `#` comments; line breaks are tokens.
    fn skip_trivia(&mut self) {
        while let Some(c) = self.peek_char(0) {
            if c == '#' {
                self.eat_while(|c| c != '\n');
            } else if c.is_whitespace() && c != '\n' {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn error(&self, start: usize, end: usize, msg: impl Into<String>) -> Error {
        Error::new(self.input, Span::new(start, end), msg)
    }

    /// `2`, `0.5`, `.5`, `2.`, `1e-3`, `2E+4`. A `.` directly followed by `*`, `/`, `^` or `'`
    /// is left alone: it starts an elementwise operator (`2.*x`), as in MATLAB.
    fn number(&mut self) -> Result<Tok, Error> {
        let start = self.pos;
        self.eat_while(|c| c.is_ascii_digit());
        if self.peek_char(0) == Some('.') && !matches!(self.peek_char(1), Some('*' | '/' | '^' | '\'')) {
            self.pos += 1;
            self.eat_while(|c| c.is_ascii_digit());
        }
        // `2e-3` is a number; `2exp(x)` and `2e` are 2 times what follows (juxtaposition).
        let digit_at = |n: usize| self.peek_char(n).is_some_and(|c| c.is_ascii_digit());
        let signed = matches!(self.peek_char(1), Some('+' | '-')) && digit_at(2);
        // (`2e+` and `2e-` with no digits are malformed numbers, not a product.)
        let sign_only = matches!(self.peek_char(1), Some('+' | '-')) && !digit_at(2);
        if matches!(self.peek_char(0), Some('e' | 'E')) && (digit_at(1) || signed || sign_only) {
            self.exponent(start)?;
        }
        let text = &self.src[start..self.pos];
        let value: f64 = text.parse().map_err(|_| {
            self.error(start, self.pos, format!("malformed number `{text}`")).with_label("not a number")
        })?;
        if value.is_infinite() {
            return Err(self
                .error(start, self.pos, "number too large")
                .with_kind(crate::ErrorKind::Limit)
                .with_label("this overflows a 64-bit float")
                .with_note("the largest representable number is about 1.8e308"));
        }
        Ok(Tok::Num(value))
    }

    /// The `e[+-]digits` tail of a number; `2e` or `2e+` without digits is an error rather
    /// than `2` times a variable `e`, since implicit products are not part of the language.
    fn exponent(&mut self, start: usize) -> Result<(), Error> {
        let mut len = 1;
        if matches!(self.peek_char(1), Some('+' | '-')) {
            len = 2;
        }
        if !self.peek_char(len).is_some_and(|c| c.is_ascii_digit()) {
            let end = self.pos + len;
            let text = &self.src[start..end];
            return Err(self
                .error(start, end, format!("malformed number `{text}`"))
                .with_label("the exponent has no digits")
                .with_note("write the exponent with digits, as in `1e-3`"));
        }
        self.pos += len;
        self.eat_while(|c| c.is_ascii_digit());
        Ok(())
    }

    /// `.*`, `./`, `.^`, `.'`; any other `.` (not before a digit) is an error.
    fn dot_operator(&mut self) -> Result<Tok, Error> {
        let kind = match self.peek_char(1) {
            Some('*') => Tok::DotStar,
            Some('/') => Tok::DotSlash,
            Some('^') => Tok::DotCaret,
            Some('\'') => Tok::Quote,
            _ => {
                return Err(self
                    .error(self.pos, self.pos + 1, "unexpected character `.`")
                    .with_label("unexpected `.`")
                    .with_note("a `.` starts a number (`.5`) or an elementwise operator (`.*`, `./`, `.^`)"));
            }
        };
        self.pos += 2;
        Ok(kind)
    }

    /// Single-character operators and punctuation.
    fn punct(&mut self, c: char) -> Result<Tok, Error> {
        let kind = match c {
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '*' => Tok::Star,
            '/' => Tok::Slash,
            '^' => Tok::Caret,
            '\'' => Tok::Quote,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            ';' => Tok::Semi,
            ':' => Tok::Colon,
            '=' => Tok::Eq,
            _ => return Err(self.unexpected_char(c)),
        };
        self.pos += 1;
        Ok(kind)
    }

    fn unexpected_char(&self, c: char) -> Error {
        // Escape invisible characters, but show quotes and backslashes as typed.
        let shown: String = match c {
            '"' | '\\' => c.to_string(),
            _ => c.escape_debug().collect(),
        };
        let err = self
            .error(self.pos, self.pos + c.len_utf8(), format!("unexpected character `{shown}`"))
            .with_label("not part of the language");
        match hint_for(c) {
            Some(note) => err.with_note(note),
            None => err,
        }
    }
}

/// A hint for characters people plausibly type by habit (MATLAB comments, typographic signs).
fn hint_for(c: char) -> Option<&'static str> {
    Some(match c {
        '%' => "comments start with `#`",
        '[' | ']' | '{' | '}' => "use parentheses `(` `)` for grouping; matrix literals are not supported",
        '\u{2212}' | '\u{2013}' => "use the ASCII minus `-`",
        '\u{d7}' | '\u{b7}' | '\u{22c5}' => "use `*` for products",
        '\u{2019}' | '\u{2032}' => "use the ASCII `'` for transpose",
        '"' => "`'` is the transpose operator; there are no strings",
        '\\' => "left division `\\` is not supported",
        c if c.is_alphabetic() => "names may only use ASCII letters, digits and `_`",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        let mut lx = Lexer::new(src, Input::Expr);
        let mut out = vec![];
        loop {
            let t = lx.next_token().expect("lexes");
            if t.kind == Tok::Eof {
                return out;
            }
            out.push(t.kind);
        }
    }

    #[test]
    fn dot_after_number_starts_elementwise_operator() {
        assert_eq!(kinds("2.*x"), vec![Tok::Num(2.0), Tok::DotStar, Tok::Ident]);
        assert_eq!(kinds("2./x"), vec![Tok::Num(2.0), Tok::DotSlash, Tok::Ident]);
        assert_eq!(kinds("2.^x"), vec![Tok::Num(2.0), Tok::DotCaret, Tok::Ident]);
        assert_eq!(kinds("2.5*x"), vec![Tok::Num(2.5), Tok::Star, Tok::Ident]);
        assert_eq!(kinds("2. * x"), vec![Tok::Num(2.0), Tok::Star, Tok::Ident]);
    }

    #[test]
    fn numbers() {
        assert_eq!(kinds(".5 1e-3 2E+4"), vec![Tok::Num(0.5), Tok::Num(1e-3), Tok::Num(2e4)]);
    }

    #[test]
    fn comments_and_newlines() {
        assert_eq!(kinds("a # b\r\nc"), vec![Tok::Ident, Tok::Newline, Tok::Ident]);
    }

    #[test]
    fn errors_have_char_boundary_spans() {
        let mut lx = Lexer::new("x é", Input::Expr);
        lx.next_token().unwrap();
        let e = lx.next_token().unwrap_err();
        assert_eq!(e.span, Some(Span::new(2, 4)));
    }
}
