//! Structured, spanned errors: the core never prints, front ends render these.

use std::fmt;

/// A byte range in one of the user's inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The bytes `start..end`.
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

/// What went wrong, for callers that branch on it (exit codes, HTTP statuses, Python exception
/// classes). A closed set: match on it rather than on the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text does not read as an expression, declaration or document (plain or LaTeX).
    Syntax,
    /// A name that is neither declared, defined nor a known function.
    UnknownName,
    /// Shapes or kinds that do not fit (`A*B` with mismatched inner dimensions, `tr` of a vector).
    Shape,
    /// A mathematically undefined value (log of a negative entry, a singular inverse, overflow).
    Domain,
    /// A bound on input size, nesting, dimension or work was exceeded.
    Limit,
    /// Bad numeric inputs or files: missing values, wrong sizes, unreadable JSON or TOML.
    Input,
    /// Valid input that matdiff cannot handle (yet): no closed form, an unsupported construct.
    Unsupported,
    /// A bug in matdiff: an invariant that should hold did not.
    Internal,
}

impl ErrorKind {
    /// A stable lowercase name (`"syntax"`, `"unknown_name"`, …) for JSON and bindings.
    ///
    /// ```
    /// assert_eq!(matdiff_syntax::ErrorKind::UnknownName.as_str(), "unknown_name");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Syntax => "syntax",
            ErrorKind::UnknownName => "unknown_name",
            ErrorKind::Shape => "shape",
            ErrorKind::Domain => "domain",
            ErrorKind::Limit => "limit",
            ErrorKind::Input => "input",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Internal => "internal",
        }
    }

    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Syntax,
        ErrorKind::UnknownName,
        ErrorKind::Shape,
        ErrorKind::Domain,
        ErrorKind::Limit,
        ErrorKind::Input,
        ErrorKind::Unsupported,
        ErrorKind::Internal,
    ];
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user-facing error: its kind, one message, optionally a span with a label, and notes.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    /// What went wrong, as a closed set a caller can match.
    pub kind: ErrorKind,
    /// One line saying what went wrong.
    pub message: String,
    /// Which input the span points into.
    pub input: Input,
    /// The offending bytes of that input, when known.
    pub span: Option<Span>,
    /// What to print under the underlined span ("expected `)` here").
    pub label: String,
    /// Extra lines: hints, the shapes involved, how to fix it.
    pub notes: Vec<String>,
}

impl Error {
    /// An error at `span` of `input`. Its kind defaults from the input ([`ErrorKind::Syntax`]
    /// for typed text, [`ErrorKind::Input`] for values and files); set another with
    /// [`Error::with_kind`].
    pub fn new(input: Input, span: Span, message: impl Into<String>) -> Self {
        let kind = Self::default_kind(input);
        Error { kind, message: message.into(), input, span: Some(span), label: String::new(), notes: vec![] }
    }
    /// An error without a span (kind defaulted as in [`Error::new`]).
    pub fn unspanned(input: Input, message: impl Into<String>) -> Self {
        let kind = Self::default_kind(input);
        Error { kind, message: message.into(), input, span: None, label: String::new(), notes: vec![] }
    }
    fn default_kind(input: Input) -> ErrorKind {
        match input {
            Input::Expr | Input::Decl | Input::Claim => ErrorKind::Syntax,
            Input::Values | Input::None => ErrorKind::Input,
        }
    }
    /// The same error with another kind.
    ///
    /// ```
    /// use matdiff_syntax::{Error, ErrorKind, Input, Span};
    /// let e = Error::new(Input::Expr, Span::new(0, 1), "cannot multiply").with_kind(ErrorKind::Shape);
    /// assert_eq!(e.kind, ErrorKind::Shape);
    /// ```
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }
    /// The same error with this label under its span.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }
    /// The same error with one more note.
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

/// A result whose error is the spanned [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
