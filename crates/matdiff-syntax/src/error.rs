//! Structured, spanned errors: the core never prints, front ends render these.

use std::fmt;

/// A byte range in one of the user's inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    /// The smallest span covering both.
    pub fn join(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// Which user-supplied text a span points into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// The expression being differentiated or evaluated.
    Expr,
    /// The `--decl` declarations.
    Decl,
    /// A claimed answer (`check --claim`).
    Claim,
    /// Numeric inputs (`--at`); no span inside the JSON.
    Values,
    /// Nothing the user typed (limits, internal consistency).
    None,
}

/// A user-facing error: one message, optionally a span with a label, and notes.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub message: String,
    pub input: Input,
    pub span: Option<Span>,
    /// What to print under the underlined span ("expected `)` here").
    pub label: String,
    /// Extra lines: hints, the shapes involved, how to fix it.
    pub notes: Vec<String>,
}

impl Error {
    pub fn new(input: Input, span: Span, message: impl Into<String>) -> Self {
        Error { message: message.into(), input, span: Some(span), label: String::new(), notes: vec![] }
    }
    pub fn unspanned(input: Input, message: impl Into<String>) -> Self {
        Error { message: message.into(), input, span: None, label: String::new(), notes: vec![] }
    }
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
    /// Re-target an error at another input (e.g. a claim parsed with the expression parser).
    pub fn in_input(mut self, input: Input) -> Self {
        if self.input != Input::None && self.input != Input::Values {
            self.input = input;
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(s) = self.span {
            write!(f, " (at {}..{})", s.start, s.end)?;
        }
        for n in &self.notes {
            write!(f, "; {n}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
