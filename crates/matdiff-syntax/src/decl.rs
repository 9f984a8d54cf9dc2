//! Parser for declarations (`--decl`): `x: vector(n); A, B: matrix(n, n)`.

use std::collections::HashMap;

use super::ast::{Decl, DeclKind, DimSpec};
use super::lexer::{Lexer, Tok, Token};
use super::parser::{check_length, line_col};
use crate::error::{Error, Input, Span};

const KINDS_NOTE: &str = "the kinds are `scalar` (or `real`), `vector`, `vector(n)`, `matrix`, \
                          `matrix(m, n)`, `symmetric` and `symmetric(n)`";

/// Parse declarations separated by `;` or line breaks; each is `name: kind` or
/// `name, name, ...: kind` (one `Decl` per name, whose span is the name).
pub fn parse_decls(src: &str) -> Result<Vec<Decl>, Error> {
    check_length(src, Input::Decl)?;
    let lexer = Lexer::new(src, Input::Decl);
    DeclParser { src, lexer, peeked: None, last: Span::default() }.decls()
}

/// A dimension list as written, before checking it against the kind.
struct Dims {
    dims: Vec<DimSpec>,
    span: Span,
}

struct DeclParser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    /// Span of the last token of the current item's kind, to span the whole item.
    last: Span,
}

impl<'a> DeclParser<'a> {
    fn peek(&mut self) -> Result<Token, Error> {
        if let Some(tok) = self.peeked {
            return Ok(tok);
        }
        let tok = self.lexer.next_token()?;
        self.peeked = Some(tok);
        Ok(tok)
    }

    fn bump(&mut self) {
        self.peeked = None;
    }

    /// Line breaks separate declarations, but inside `( )` they are just whitespace.
    fn peek_skipping_newlines(&mut self) -> Result<Token, Error> {
        loop {
            let tok = self.peek()?;
            if tok.kind != Tok::Newline {
                return Ok(tok);
            }
            self.bump();
        }
    }

    fn text(&self, span: Span) -> &'a str {
        self.src.get(span.start..span.end).unwrap_or("")
    }

    fn error(&self, span: Span, msg: impl Into<String>) -> Error {
        Error::new(Input::Decl, span, msg)
    }

    /// "expected X, found Y" at the token found.
    fn expected(&self, what: &str, tok: Token, label: &str) -> Error {
        self.error(tok.span, format!("expected {what}, found {}", tok.describe(self.src))).with_label(label)
    }

    fn decls(mut self) -> Result<Vec<Decl>, Error> {
        let mut out: Vec<Decl> = Vec::new();
        // Name -> span of the whole item that first declared it, for the duplicate note.
        let mut first: HashMap<String, Span> = HashMap::new();
        loop {
            let tok = self.skip_separators()?;
            if tok.kind == Tok::Eof {
                return Ok(out);
            }
            let names = self.names()?;
            let kind = self.kind()?;
            let item = tok.span.join(self.last);
            self.end_of_item(&names)?;
            for name in names {
                let text = self.text(name);
                if let Some(prev) = first.get(text) {
                    return Err(self.duplicate(name, *prev));
                }
                first.insert(text.to_string(), item);
                out.push(Decl { name: text.to_string(), span: name, kind: kind.clone() });
            }
        }
    }

    fn skip_separators(&mut self) -> Result<Token, Error> {
        loop {
            let tok = self.peek()?;
            if !matches!(tok.kind, Tok::Semi | Tok::Newline) {
                return Ok(tok);
            }
            self.bump();
        }
    }

    /// `a` or `a, b, c`, up to and including the `:`.
    fn names(&mut self) -> Result<Vec<Span>, Error> {
        let mut names = Vec::new();
        let mut tok = self.peek()?;
        loop {
            if tok.kind != Tok::Ident {
                let err = self.expected("a name to declare", tok, "expected a name here");
                return Err(err.with_note("declarations look like `x: vector(n)`"));
            }
            self.bump();
            names.push(tok.span);
            let next = self.peek()?;
            match next.kind {
                Tok::Comma => self.bump(),
                Tok::Colon => {
                    self.bump();
                    return Ok(names);
                }
                _ => {
                    let what = format!("`:` after `{}`", self.text(tok.span));
                    let err = self.expected(&what, next, "expected `:` here");
                    return Err(err.with_note("declarations look like `x: vector(n)`"));
                }
            }
            tok = self.peek()?;
        }
    }

    /// The kind after the `:`, with its optional dimension list.
    fn kind(&mut self) -> Result<DeclKind, Error> {
        let tok = self.peek()?;
        if tok.kind != Tok::Ident {
            let err = self.expected("a kind after `:`", tok, "expected a kind here");
            return Err(err.with_note(KINDS_NOTE));
        }
        self.bump();
        self.last = tok.span;
        let name = self.text(tok.span);
        if !matches!(name, "scalar" | "real" | "vector" | "matrix" | "symmetric") {
            let err = self.error(tok.span, format!("unknown kind `{name}`")).with_label("not a kind");
            return Err(err.with_note(KINDS_NOTE));
        }
        let dims = if self.peek()?.kind == Tok::LParen { Some(self.dims(name)?) } else { None };
        self.check_arity(name, tok.span, dims)
    }

    /// Turn the kind name and its dimensions into a `DeclKind`, checking how many were given.
    fn check_arity(&self, name: &str, name_span: Span, dims: Option<Dims>) -> Result<DeclKind, Error> {
        let Some(Dims { dims, span }) = dims else {
            return Ok(match name {
                "vector" => DeclKind::Vector(None),
                "matrix" => DeclKind::Matrix(None, None),
                "symmetric" => DeclKind::Symmetric(None),
                _ => DeclKind::Scalar,
            });
        };
        let span = name_span.join(span);
        let mut it = dims.into_iter();
        let expected = match (name, it.len()) {
            ("vector", 1) => return Ok(DeclKind::Vector(it.next())),
            ("matrix", 2) => return Ok(DeclKind::Matrix(it.next(), it.next())),
            ("symmetric", 1) => return Ok(DeclKind::Symmetric(it.next())),
            ("vector", _) => "one dimension, as in `vector(n)`",
            ("matrix", _) => "two dimensions, as in `matrix(m, n)`",
            ("symmetric", _) => "one dimension, as in `symmetric(n)`",
            _ => {
                let msg = format!("`{name}` takes no dimensions");
                return Err(self.error(span, msg).with_label("remove the parentheses"));
            }
        };
        let found = match it.len() {
            0 => "none".to_string(),
            n => n.to_string(),
        };
        Err(self
            .error(span, format!("`{name}` takes {expected}; found {found}"))
            .with_label("wrong number of dimensions"))
    }

    /// `( dim, dim, ... )`, `(` next; line breaks inside are whitespace.
    fn dims(&mut self, kind: &str) -> Result<Dims, Error> {
        let lparen = self.peek()?;
        self.bump();
        let mut dims = Vec::new();
        let mut tok = self.peek_skipping_newlines()?;
        if tok.kind != Tok::RParen {
            loop {
                let mut dim = self.dim(tok)?;
                tok = self.peek_skipping_newlines()?;
                // `m*n`: a product dimension.
                while tok.kind == Tok::Star {
                    self.bump();
                    let next = self.peek_skipping_newlines()?;
                    let factor = self.dim(next)?;
                    dim = match dim {
                        DimSpec::Product(mut fs) => {
                            fs.push(factor);
                            DimSpec::Product(fs)
                        }
                        first => DimSpec::Product(vec![first, factor]),
                    };
                    tok = self.peek_skipping_newlines()?;
                }
                dims.push(dim);
                match tok.kind {
                    Tok::Comma => self.bump(),
                    Tok::RParen => break,
                    Tok::Eof => return Err(self.unclosed(lparen, tok)),
                    _ => {
                        let what = format!("`,` or `)` in the dimensions of `{kind}`");
                        return Err(self.expected(&what, tok, "expected `,` or `)` here"));
                    }
                }
                tok = self.peek_skipping_newlines()?;
            }
        }
        self.bump();
        self.last = tok.span;
        Ok(Dims { dims, span: lparen.span.join(tok.span) })
    }

    fn unclosed(&self, lparen: Token, eof: Token) -> Error {
        let (line, col) = line_col(self.src, eof.span.start);
        self.error(lparen.span, "unclosed `(`")
            .with_label("this `(` is never closed")
            .with_note(format!("the input ended at line {line}, column {col}, before a matching `)`"))
    }

    /// One dimension: a name, or a positive integer written with digits only.
    fn dim(&mut self, tok: Token) -> Result<DimSpec, Error> {
        let text = self.text(tok.span);
        let dim = match tok.kind {
            Tok::Ident => DimSpec::Name(text.to_string()),
            Tok::Num(_) if text.bytes().all(|b| b.is_ascii_digit()) => match text.parse::<usize>() {
                Ok(0) => {
                    return Err(self
                        .error(tok.span, "a dimension must be positive, found `0`")
                        .with_label("zero dimension"));
                }
                Ok(n) => DimSpec::Num(n),
                Err(_) => return Err(self.error(tok.span, "dimension too large").with_label("too large")),
            },
            Tok::Num(_) => {
                return Err(self
                    .error(tok.span, format!("a dimension must be a positive integer or a name, found `{text}`"))
                    .with_label("not a whole number"));
            }
            Tok::RParen => {
                let err = self.expected("a dimension", tok, "expected a dimension after `,`");
                return Err(err);
            }
            _ => {
                let err = self.expected("a dimension (a name or a positive integer)", tok, "expected a dimension here");
                return Err(err);
            }
        };
        self.bump();
        Ok(dim)
    }

    /// After a kind: `;`, a line break or the end.
    fn end_of_item(&mut self, names: &[Span]) -> Result<(), Error> {
        let tok = self.peek()?;
        if matches!(tok.kind, Tok::Semi | Tok::Newline | Tok::Eof) {
            return Ok(());
        }
        let last = names.last().map_or("", |s| self.text(*s));
        let what = format!("`;` or a line break after the declaration of `{last}`");
        Err(self.expected(&what, tok, "expected `;` or a line break here"))
    }

    fn duplicate(&self, name: Span, first: Span) -> Error {
        let text = self.text(name);
        self.error(name, format!("`{text}` is declared twice"))
            .with_label("declared again here")
            .with_note(format!("first declared in `{}`", self.text(first)))
    }
}
