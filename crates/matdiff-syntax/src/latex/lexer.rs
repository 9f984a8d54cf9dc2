//! LaTeX lexer: commands, delimiters and letter runs (split into names) as spanned tokens.
//!
//! Spacing, sizes (`\big`, `\left`), `&`, `\\` and `$` are skipped here, so the parser sees only
//! what carries meaning. Letter runs are split into names against the declared ones
//! (`xx` → `x`, `x`), each piece its own token with its own span.

use std::collections::{HashSet, VecDeque};

use super::tables::{self, Side, Wrapper};
use super::words::{self, MAX_RUN};
use crate::ast::BinOp;
use crate::error::{Error, Input, Span};

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    Num(f64),
    /// A variable name (a letter run's piece, a Greek letter, `\hat{y}` as `yhat`, ...).
    Name(String),
    /// A function: `\log`, `\operatorname{tr}`, `\sigma` before `(`, `det` as a word.
    Func(String),
    Frac,
    /// `\mathbf{1}` (a vector of ones) or `\mathbf{0}`.
    Ones(f64),
    /// An explicit binary operator other than `+` and `-`.
    Op(BinOp),
    Plus,
    Minus,
    Caret,
    Underscore,
    /// `'` or `ᵀ`: transpose.
    Quote,
    /// `\top`, `\intercal`, `\prime`: a transpose when it is a superscript.
    Top,
    /// `\sum_i`, `\sum_{i,j}`, `\sum_{i=1}^n`: a sum over every entry, binding these index
    /// letters in its summand (the bounds are the whole range).
    Sum(Vec<char>),
    Open(Delim),
    Close(Delim),
    /// `|` (det) or `\|` (norm); `side` when `\left`/`\right` or `\lvert`/`\rvert` say so.
    Bar {
        double: bool,
        side: Side,
    },
    Comma,
    /// `:`, the Frobenius product `A : B`.
    Colon,
    Dot,
    Semi,
    /// `//`, a closing mark in handwritten solutions.
    DoubleSlash,
    Eof,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Delim {
    Paren,
    Bracket,
    Brace,
    /// `\langle .. \rangle`, an inner product.
    Angle,
}

impl Delim {
    pub fn open(self) -> &'static str {
        match self {
            Delim::Paren => "(",
            Delim::Bracket => "[",
            Delim::Brace => "{",
            Delim::Angle => "\\langle",
        }
    }
    pub fn close(self) -> &'static str {
        match self {
            Delim::Paren => ")",
            Delim::Bracket => "]",
            Delim::Brace => "}",
            Delim::Angle => "\\rangle",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Token {
    pub kind: Tok,
    pub span: Span,
}

impl Token {
    /// How the token reads in an error message.
    pub fn describe(&self, src: &str) -> String {
        match self.kind {
            Tok::Eof => "the end of the input".to_string(),
            _ => format!("`{}`", src.get(self.span.start..self.span.end).unwrap_or("?")),
        }
    }

    /// Whether the token can start an operand (and so, after one, makes a product).
    pub fn starts_operand(&self) -> bool {
        match self.kind {
            Tok::Num(_) | Tok::Name(_) | Tok::Func(_) | Tok::Frac | Tok::Ones(_) | Tok::Open(_) | Tok::Sum(_) => true,
            Tok::Bar { side, .. } => side != Side::Close,
            _ => false,
        }
    }
}

pub(super) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// End of the last token, where "end of input" errors point.
    last_end: usize,
    names: &'a HashSet<String>,
    longest_name: usize,
    /// Pieces of a split letter run not yet handed out.
    queue: VecDeque<Token>,
    /// Readings worth telling the user about ("read `xy` as x*y").
    pub notes: Vec<String>,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str, names: &'a HashSet<String>) -> Self {
        let longest_name = names.iter().map(|n| n.len()).max().unwrap_or(0);
        Lexer { src, pos: 0, last_end: 0, names, longest_name, queue: VecDeque::new(), notes: vec![] }
    }

    pub fn is_declared(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    fn error(&self, start: usize, end: usize, msg: impl Into<String>) -> Error {
        Error::new(Input::Expr, Span::new(start, end), msg)
    }

    fn peek_char(&self) -> Option<char> {
        self.src.get(self.pos..)?.chars().next()
    }

    fn char_at(&self, at: usize) -> Option<char> {
        self.src.get(at..)?.chars().next()
    }

    /// The command name at `at` (just after a backslash): letters, or one other character.
    fn command_at(&self, at: usize) -> &'a str {
        let rest = self.src.get(at..).unwrap_or("");
        let letters = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        if letters > 0 {
            &rest[..letters]
        } else {
            rest.chars().next().map_or("", |c| &rest[..c.len_utf8()])
        }
    }

    fn skip_spaces(&mut self) {
        while let Some(c) = self.peek_char() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    /// Whitespace, `~`, `&`, `$`, `%` comments, `\\`, and spacing commands (`\,`, `\quad`).
    fn skip_trivia(&mut self) {
        loop {
            let Some(c) = self.peek_char() else { return };
            match c {
                c if c.is_whitespace() => self.pos += c.len_utf8(),
                '~' | '&' | '$' => self.pos += 1,
                '%' => {
                    while let Some(c) = self.peek_char() {
                        if c == '\n' {
                            break;
                        }
                        self.pos += c.len_utf8();
                    }
                }
                '\\' => {
                    let cmd = self.command_at(self.pos + 1);
                    let spacing = matches!(cmd, "," | ";" | ":" | "!" | " " | ">" | "\\" | "\n" | "\t")
                        || tables::is_spacing(cmd);
                    if !spacing {
                        return;
                    }
                    self.pos += 1 + cmd.len();
                }
                _ => return,
            }
        }
    }

    /// The next token; `Eof` forever once the input is exhausted.
    pub fn next_token(&mut self) -> Result<Token, Error> {
        loop {
            if let Some(tok) = self.queue.pop_front() {
                return Ok(tok);
            }
            self.skip_trivia();
            let start = self.pos;
            let Some(c) = self.peek_char() else {
                return Ok(Token { kind: Tok::Eof, span: Span::new(self.last_end, self.last_end) });
            };
            let kind = match c {
                '0'..='9' => self.number()?,
                '.' if self.char_at(self.pos + 1).is_some_and(|d| d.is_ascii_digit()) => self.number()?,
                'a'..='z' | 'A'..='Z' => {
                    match self.word()? {
                        Some(tok) => tok,
                        None => continue, // pieces were queued
                    }
                }
                '\\' => match self.command()? {
                    Some(kind) => kind,
                    None => continue, // `\left.` and the like
                },
                _ => self.punct(c)?,
            };
            return Ok(self.finish(kind, start));
        }
    }

    fn finish(&mut self, kind: Tok, start: usize) -> Token {
        self.last_end = self.pos;
        Token { kind, span: Span::new(start, self.pos) }
    }

    /// Digits with an optional fraction: `2`, `0.5`, `.5`. No exponent (`1e-3` is `1*e-3` in
    /// LaTeX); a `.` not followed by a digit is left alone (trailing punctuation).
    fn number(&mut self) -> Result<Tok, Error> {
        let start = self.pos;
        self.eat_digits();
        if self.peek_char() == Some('.') && self.char_at(self.pos + 1).is_some_and(|d| d.is_ascii_digit()) {
            self.pos += 1;
            self.eat_digits();
        }
        let value: f64 = self.src[start..self.pos].parse().unwrap_or(f64::INFINITY);
        if !value.is_finite() {
            return Err(self
                .error(start, self.pos, "number too large")
                .with_kind(crate::ErrorKind::Limit)
                .with_label("this overflows a 64-bit float")
                .with_note("the largest representable number is about 1.8e308"));
        }
        Ok(Tok::Num(value))
    }

    fn eat_digits(&mut self) {
        while self.peek_char().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    /// A run of letters and digits: a declared name, a function word, a Greek name, or
    /// several names side by side (queued as separate tokens).
    fn word(&mut self) -> Result<Option<Tok>, Error> {
        let start = self.pos;
        while self.peek_char().is_some_and(|c| c.is_ascii_alphanumeric()) {
            self.pos += 1;
        }
        let run = &self.src[start..self.pos];
        if run.len() > MAX_RUN {
            return Err(self
                .error(start, self.pos, format!("a run of {} letters cannot be read as names", run.len()))
                .with_label("too long to be variable names")
                .with_note("separate the factors with spaces or `\\cdot`"));
        }
        let ways = words::segmentations(run, self.names, self.longest_name, 4);
        if ways.len() > 1 {
            // Several ways with declared names only (`xx` with `x` and `xx` declared): a
            // genuine ambiguity, never resolved by a guess.
            let shown: Vec<String> = ways
                .iter()
                .map(|w| format!("`{}`", w.iter().map(|p| &run[p.start..p.end]).collect::<Vec<_>>().join("*")))
                .collect();
            return Err(self
                .error(start, self.pos, format!("`{run}` can be read {} ways", shown.len()))
                .with_label(format!("{} are all declared", shown.join(", ")))
                .with_note(format!(
                    "write one of {} explicitly (`\\cdot` or spaces between factors)",
                    shown.join(" or ")
                ))
                .with_note("a run of letters is read against the declared names; here it fits several"));
        }
        if self.names.contains(run) {
            return Ok(Some(Tok::Name(run.to_string())));
        }
        if let Some(f) = tables::function(run) {
            return Ok(Some(Tok::Func(f.to_string())));
        }
        if let Some(g) = tables::greek(run) {
            return Ok(Some(Tok::Name(g.to_string())));
        }
        let pieces = words::split(run, self.names, self.longest_name);
        let undeclared: Vec<&str> =
            pieces.iter().map(|p| &run[p.start..p.end]).filter(|p| !self.names.contains(*p)).collect();
        if pieces.len() > 1 && undeclared.len() > 1 && !self.names.is_empty() {
            // With names declared, a run of undeclared letters is more likely a word (OCR
            // text, `and`) or a missing declaration than a product: do not guess.
            let quoted: Vec<String> = undeclared.iter().map(|p| format!("`{p}`")).collect();
            return Err(self
                .error(start, self.pos, format!("cannot read `{run}`: {} are not declared names", quoted.join(", ")))
                .with_label("undeclared letters side by side")
                .with_note(
                    "declare the variables (e.g. --decl \"x: vector(n)\"), or separate the factors with spaces",
                ));
        }
        if pieces.len() > 1 {
            let read: Vec<&str> = pieces.iter().map(|p| &run[p.start..p.end]).collect();
            self.note(format!("read `{run}` as {}", read.join("*")));
        }
        for p in pieces {
            let span = Span::new(start + p.start, start + p.end);
            self.queue.push_back(Token { kind: Tok::Name(run[p.start..p.end].to_string()), span });
        }
        self.last_end = self.pos;
        Ok(None)
    }

    /// A backslash command at `self.pos`; `None` for ones that vanish (`\left.`).
    fn command(&mut self) -> Result<Option<Tok>, Error> {
        let start = self.pos;
        let cmd = self.command_at(start + 1);
        if cmd.is_empty() {
            return Err(self
                .error(start, start + 1, "a lone `\\` at the end of the input")
                .with_label("expected a command name after this"));
        }
        self.pos = start + 1 + cmd.len();
        let tok = match cmd {
            "|" => Tok::Bar { double: true, side: Side::Either },
            "{" => Tok::Open(Delim::Brace),
            "}" => Tok::Close(Delim::Brace),
            "left" => return self.delimiter(start, Side::Open, "\\left"),
            "right" => return self.delimiter(start, Side::Close, "\\right"),
            "Vert" => Tok::Bar { double: true, side: Side::Either },
            "lVert" => Tok::Bar { double: true, side: Side::Open },
            "rVert" => Tok::Bar { double: true, side: Side::Close },
            "vert" => Tok::Bar { double: false, side: Side::Either },
            "lvert" => Tok::Bar { double: false, side: Side::Open },
            "rvert" => Tok::Bar { double: false, side: Side::Close },
            "frac" | "dfrac" | "tfrac" | "cfrac" => Tok::Frac,
            "sigma"
                if !self.names.contains("sigma") && self.char_at(self.pos) == Some('\'') && {
                    self.pos += 1;
                    let paren = self.paren_follows();
                    self.pos -= 1;
                    paren
                } =>
            {
                self.pos += 1;
                self.note("read `\\sigma'(..)` as the derivative of the sigmoid, σ(..)⊙(1 − σ(..))".to_string());
                Tok::Func("sigmoid'".to_string())
            }
            "sigma" if !self.names.contains("sigma") && self.script_then_paren() => {
                self.note("read `\\sigma(..)` as sigmoid(..)".to_string());
                Tok::Func("sigmoid".to_string())
            }
            "sum" => self.sum_scripts(start)?,
            "langle" => Tok::Open(Delim::Angle),
            "rangle" => Tok::Close(Delim::Angle),
            _ => {
                if let Some(side) = tables::sizing(cmd) {
                    return self.delimiter(start, side, &format!("\\{cmd}"));
                }
                if let Some(g) = tables::greek(cmd) {
                    Tok::Name(g.to_string())
                } else if tables::refusal(cmd).is_some() {
                    return Err(self.refused(start, cmd));
                } else if let Some(f) = tables::function(cmd) {
                    Tok::Func(f.to_string())
                } else if let Some(op) = tables::operator(cmd) {
                    Tok::Op(op)
                } else if tables::is_transpose_mark(cmd) {
                    Tok::Top
                } else if let Some(w) = tables::wrapper(cmd) {
                    return self.wrapper(start, cmd, w);
                } else if let Some(suffix) = tables::accent(cmd) {
                    Tok::Name(self.accent(start, cmd, suffix)?)
                } else {
                    return Err(self.refused(start, cmd));
                }
            }
        };
        Ok(Some(tok))
    }

    /// The scripts of `\sum` (the lexer is just after the command): the index letters below,
    /// `_i`, `_{i,j}`, `_{ij}` or `_{i=1}`, and an upper bound `^n`, `^{N}`, `^{n-1}` that is
    /// taken as the whole range (a sum here runs over every entry).
    fn sum_scripts(&mut self, start: usize) -> Result<Tok, Error> {
        let mut indices: Option<Vec<char>> = None;
        let mut upper = false;
        loop {
            // The token ends with its last script, not with the spaces after it.
            let end = self.pos;
            self.skip_trivia();
            let at = self.pos;
            match self.peek_char() {
                Some('_') if indices.is_none() => {
                    self.pos += 1;
                    indices = Some(self.sum_indices(at)?);
                }
                Some('^') if !upper => {
                    self.pos += 1;
                    self.sum_bound(at)?;
                    upper = true;
                }
                _ => {
                    self.pos = end;
                    break;
                }
            }
        }
        match indices {
            Some(indices) => Ok(Tok::Sum(indices)),
            None => Err(self
                .error(start, start + 4, "a sum without its index")
                .with_label("expected `_i` (or `_{i,j}`) after `\\sum`")
                .with_note("write e.g. `\\sum_i x_i^2` or `\\sum_{i,j} X_{ij}`; sums run over every entry")),
        }
    }

    /// The index letters of `\sum_..` (after the `_`): one letter, or braced letters with
    /// optional commas and an optional lower bound `= 1` after a single index.
    fn sum_indices(&mut self, underscore: usize) -> Result<Vec<char>, Error> {
        let bad = |lx: &Self, end: usize, label: &str| {
            lx.error(underscore, end.max(underscore + 1), "expected the index letters of the sum")
                .with_label(label.to_string())
                .with_note("write `\\sum_i`, `\\sum_{i,j}` or `\\sum_{i=1}^n`: single letters bound by the sum")
        };
        self.skip_spaces();
        let Some(c) = self.peek_char() else { return Err(bad(self, self.pos, "the input ends here")) };
        if c.is_ascii_alphabetic() {
            self.pos += 1;
            return Ok(vec![c]);
        }
        if c != '{' {
            return Err(bad(self, self.pos + c.len_utf8(), "not an index letter"));
        }
        let Some(end) = brace_group_end(self.src, self.pos, 256) else {
            return Err(bad(self, self.pos + 1, "this `{` is never closed"));
        };
        let inner = &self.src[self.pos + 1..end - 1];
        let inner_start = self.pos + 1;
        let (letters, bound) = match inner.split_once('=') {
            Some((l, b)) => (l, Some(b)),
            None => (inner, None),
        };
        let mut indices = vec![];
        for (i, c) in letters.char_indices() {
            let at = inner_start + i;
            if c.is_ascii_alphabetic() {
                if indices.contains(&c) {
                    return Err(self
                        .error(at, at + 1, format!("the index `{c}` is bound twice"))
                        .with_label("already an index of this sum")
                        .with_note("each index letter names one position: `\\sum_{i,j} X_{ij}`"));
                }
                indices.push(c);
            } else if c != ',' && !c.is_whitespace() {
                return Err(bad(self, at + c.len_utf8(), "only index letters and commas here"));
            }
        }
        if indices.is_empty() {
            return Err(bad(self, end, "no index letter"));
        }
        if let Some(bound) = bound {
            let ok = bound.chars().all(|c| c.is_ascii_alphanumeric() || c.is_whitespace() || c == '-' || c == '+');
            if indices.len() > 1 || !ok || bound.trim().is_empty() {
                return Err(bad(self, end, "expected `{i=1}` or `{i=0}`"));
            }
        }
        self.pos = end;
        Ok(indices)
    }

    /// The upper bound of a sum (after the `^`): a letter or digit, or a braced bound such as
    /// `{n}` or `{n-1}`; read over and not used (the sum runs over every entry).
    fn sum_bound(&mut self, caret: usize) -> Result<(), Error> {
        self.skip_spaces();
        let bad = |lx: &Self, end: usize| {
            lx.error(caret, end.max(caret + 1), "expected the upper bound of the sum")
                .with_label("not read as a bound")
                .with_note("write `\\sum_{i=1}^n x_i` or leave the bounds out: sums run over every entry")
        };
        match self.peek_char() {
            Some(c) if c.is_ascii_alphanumeric() => {
                self.pos += 1;
            }
            Some('{') => {
                let Some(end) = brace_group_end(self.src, self.pos, 256) else { return Err(bad(self, self.pos + 1)) };
                let inner = &self.src[self.pos + 1..end - 1];
                let ok = !inner.trim().is_empty()
                    && inner.chars().all(|c| c.is_ascii_alphanumeric() || c.is_whitespace() || c == '-' || c == '+');
                if !ok {
                    return Err(bad(self, end));
                }
                self.pos = end;
            }
            Some(c) => return Err(bad(self, self.pos + c.len_utf8())),
            None => return Err(bad(self, self.pos)),
        }
        Ok(())
    }

    /// The error for a command that is not read: a known refusal with its reason, or unknown.
    fn refused(&self, start: usize, cmd: &str) -> Error {
        let mut end = start + 1 + cmd.len();
        if let Some((msg, note)) = tables::refusal(cmd) {
            if cmd == "nabla" {
                end = self.script_end(end).unwrap_or(end);
            }
            return self.error(start, end, msg).with_label(format!("`\\{cmd}` is not read here")).with_note(note);
        }
        self.error(start, end, format!("unknown LaTeX command `\\{cmd}`"))
            .with_label("not understood")
            .with_note("see docs/latex.md for the LaTeX that matdiff reads")
    }

    /// The end of a `_x` or `_{..}` after `at`, for the span of `\nabla_W`.
    fn script_end(&self, at: usize) -> Option<usize> {
        let rest = self.src.get(at..)?;
        let rest_trim = rest.trim_start();
        let at = at + (rest.len() - rest_trim.len());
        let after = rest_trim.strip_prefix('_')?;
        let after_trim = after.trim_start();
        let at = at + 1 + (after.len() - after_trim.len());
        if after_trim.starts_with('{') {
            brace_group_end(self.src, at, 256)
        } else {
            let c = after_trim.chars().next()?;
            Some(at + c.len_utf8())
        }
    }

    /// Whether a `(` comes next, possibly after a power script (`\sigma^2(z)`, `\sigma^{2}(z)`).
    fn script_then_paren(&mut self) -> bool {
        let start = self.pos;
        let rest = self.src.get(start..).unwrap_or("");
        let trimmed = rest.trim_start();
        if let Some(after) = trimmed.strip_prefix('^') {
            let after = after.trim_start();
            let len = if after.starts_with('{') {
                after.find('}').map(|i| i + 1)
            } else {
                after.chars().next().filter(|c| c.is_ascii_digit()).map(|_| 1)
            };
            let Some(len) = len else { return false };
            self.pos = start + (rest.len() - after.len()) + len;
            let paren = self.paren_follows();
            self.pos = start;
            return paren;
        }
        self.paren_follows()
    }

    /// Whether a `(` comes next, possibly after spaces and `\left`/`\big`.
    fn paren_follows(&self) -> bool {
        let mut at = self.pos;
        loop {
            let rest = self.src.get(at..).unwrap_or("");
            let trimmed = rest.trim_start();
            at += rest.len() - trimmed.len();
            if trimmed.starts_with('(') {
                return true;
            }
            if trimmed.starts_with('\\') {
                let cmd = self.command_at(at + 1);
                if cmd == "left" || tables::sizing(cmd).is_some() || cmd == "," || cmd == "!" || cmd == ";" {
                    at += 1 + cmd.len();
                    continue;
                }
            }
            return false;
        }
    }

    /// The delimiter after `\left`, `\right` or `\big..`; `\left.` and `\right.` vanish.
    fn delimiter(&mut self, start: usize, side: Side, what: &str) -> Result<Option<Tok>, Error> {
        self.skip_spaces();
        let at = self.pos;
        let Some(c) = self.peek_char() else {
            return Err(self
                .error(start, at, format!("expected a delimiter after `{what}`"))
                .with_label("the input ends here"));
        };
        let tok = match c {
            '(' => Tok::Open(Delim::Paren),
            ')' => Tok::Close(Delim::Paren),
            '[' => Tok::Open(Delim::Bracket),
            ']' => Tok::Close(Delim::Bracket),
            '|' => Tok::Bar { double: false, side },
            '‖' => Tok::Bar { double: true, side },
            '.' => {
                self.pos += 1;
                return Ok(None);
            }
            '\\' => {
                let cmd = self.command_at(at + 1);
                let tok = match cmd {
                    "{" => Tok::Open(Delim::Brace),
                    "}" => Tok::Close(Delim::Brace),
                    "|" | "Vert" | "lVert" | "rVert" => Tok::Bar { double: true, side },
                    "vert" | "lvert" | "rvert" => Tok::Bar { double: false, side },
                    _ => {
                        return Err(self
                            .error(start, at + 1 + cmd.len(), format!("expected a delimiter after `{what}`"))
                            .with_label("not a delimiter matdiff reads")
                            .with_note("the delimiters read are ( ) [ ] \\{ \\} | \\| and ."))
                    }
                };
                self.pos = at + 1 + cmd.len();
                return Ok(Some(tok));
            }
            _ => {
                return Err(self
                    .error(start, at + c.len_utf8(), format!("expected a delimiter after `{what}`"))
                    .with_label("not a delimiter matdiff reads")
                    .with_note("the delimiters read are ( ) [ ] \\{ \\} | \\| and ."))
            }
        };
        self.pos = at + c.len_utf8();
        Ok(Some(tok))
    }

    /// `\mathbf{W}`, `\operatorname{tr}`, `\mathbf{1}`, `\text{Swish}`: what the braces hold
    /// decides. Anything but a single word is a transparent group: `\mathbf{` opens a brace.
    fn wrapper(&mut self, start: usize, cmd: &str, kind: Wrapper) -> Result<Option<Tok>, Error> {
        if self.peek_char() == Some('*') && cmd == "operatorname" {
            self.pos += 1;
        }
        self.skip_spaces();
        if self.peek_char() != Some('{') {
            // `\mathbf x`: the wrapper applies to the next token, which reads as usual.
            return Ok(None);
        }
        let open = self.pos;
        let content_end = self.src[open + 1..].find(['}', '{', '\\']).map(|i| open + 1 + i);
        let simple = content_end.filter(|&e| self.src.as_bytes()[e] == b'}');
        let Some(close) = simple else {
            if kind == Wrapper::Text && cmd != "mathrm" {
                return Err(self
                    .error(start, open + 1, format!("expected a function name or a variable inside `\\{cmd}{{..}}`"))
                    .with_label("not a single word")
                    .with_note("write the expression outside the text, e.g. `\\operatorname{tr}(A)`"));
            }
            self.pos = open + 1;
            return Ok(Some(Tok::Open(Delim::Brace)));
        };
        let word = self.src[open + 1..close].trim();
        let is_word = word.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && word.chars().all(|c| c.is_ascii_alphanumeric());
        let whole = Span::new(start, close + 1);
        let tok = if kind == Wrapper::Bold && (word == "1" || word == "0") {
            let text = &self.src[start..close + 1];
            let what = if word == "1" { "ones" } else { "zeros" };
            self.note(format!("read `{text}` as vector({word}), a vector of {what}"));
            Some(Tok::Ones(if word == "1" { 1.0 } else { 0.0 }))
        } else if !is_word {
            None
        } else if self.names.contains(word) {
            Some(Tok::Name(word.to_string()))
        } else if let Some(f) = tables::function(word).filter(|_| kind == Wrapper::Text) {
            Some(Tok::Func(f.to_string()))
        } else if kind == Wrapper::Text && matches!(cmd, "operatorname" | "mathop") {
            Some(Tok::Func(word.to_string()))
        } else if kind == Wrapper::Text
            && cmd != "mathrm"
            && word.len() > 1
            && !(word.len() == 2 && word.as_bytes()[1].is_ascii_digit())
        {
            return Err(self
                .error(whole.start, whole.end, format!("`{word}` is neither a known function nor a declared name"))
                .with_label("not understood")
                .with_note("declare it with --decl if it is a variable; see docs/latex.md for the functions read"));
        } else {
            None
        };
        match tok {
            Some(tok) => {
                self.pos = close + 1;
                Ok(Some(tok))
            }
            None => {
                self.pos = open + 1;
                Ok(Some(Tok::Open(Delim::Brace)))
            }
        }
    }

    /// `\hat{y}` → `yhat`: the accented letter (or Greek letter) as a name of its own.
    fn accent(&mut self, start: usize, cmd: &str, suffix: &str) -> Result<String, Error> {
        self.skip_spaces();
        let braced = self.peek_char() == Some('{');
        let content_start = if braced { self.pos + 1 } else { self.pos };
        let (base, end) = match self.name_unit(content_start, braced) {
            Some(found) => found,
            None => {
                return Err(self
                    .error(start, self.pos.max(start + 1 + cmd.len()), format!("expected a variable under `\\{cmd}`"))
                    .with_label("not a single letter or name")
                    .with_note(format!("write e.g. `\\{cmd}{{y}}`")))
            }
        };
        self.pos = end;
        if braced {
            self.skip_spaces();
            if self.peek_char() != Some('}') {
                return Err(self
                    .error(start, self.pos, format!("expected `}}` to close `\\{cmd}{{..`"))
                    .with_label("not a single letter or name"));
            }
            self.pos += 1;
        }
        let name = format!("{base}{suffix}");
        self.note(format!("read `{}` as the name {name}", &self.src[start..self.pos]));
        Ok(name)
    }

    /// A name at `at`: a run of letters and digits (whole when braced, one letter otherwise),
    /// or a Greek letter command. Returns it and where it ends.
    fn name_unit(&self, at: usize, braced: bool) -> Option<(String, usize)> {
        let rest = self.src.get(at..)?;
        let trimmed = rest.trim_start();
        let at = at + rest.len() - trimmed.len();
        if trimmed.starts_with('\\') {
            let cmd = self.command_at(at + 1);
            return tables::greek(cmd).map(|g| (g.to_string(), at + 1 + cmd.len()));
        }
        let first = trimmed.chars().next()?;
        if !first.is_ascii_alphabetic() {
            return None;
        }
        let len = if braced { trimmed.bytes().take_while(|b| b.is_ascii_alphanumeric()).count() } else { 1 };
        Some((trimmed[..len].to_string(), at + len))
    }

    fn punct(&mut self, c: char) -> Result<Tok, Error> {
        let start = self.pos;
        let next = self.char_at(start + c.len_utf8());
        let (tok, len) = match c {
            '+' => (Tok::Plus, 1),
            '-' | '\u{2212}' | '\u{2013}' => (Tok::Minus, c.len_utf8()),
            '*' | '\u{b7}' | '\u{22c5}' | '\u{d7}' | '\u{2217}' => (Tok::Op(BinOp::Mul), c.len_utf8()),
            '\u{2299}' | '\u{2218}' => (Tok::Op(BinOp::EMul), c.len_utf8()),
            '/' if next == Some('/') => (Tok::DoubleSlash, 2),
            '/' => (Tok::Op(BinOp::Div), 1),
            '.' if next == Some('*') => (Tok::Op(BinOp::EMul), 2),
            '.' if next == Some('/') => (Tok::Op(BinOp::EDiv), 2),
            '.' => (Tok::Dot, 1),
            '^' => (Tok::Caret, 1),
            '_' => (Tok::Underscore, 1),
            '\'' | '\u{1d40}' => (Tok::Quote, c.len_utf8()),
            '(' => (Tok::Open(Delim::Paren), 1),
            ')' => (Tok::Close(Delim::Paren), 1),
            '[' => (Tok::Open(Delim::Bracket), 1),
            ']' => (Tok::Close(Delim::Bracket), 1),
            '{' => (Tok::Open(Delim::Brace), 1),
            '}' => (Tok::Close(Delim::Brace), 1),
            '|' if next == Some('|') => (Tok::Bar { double: true, side: Side::Either }, 2),
            '|' => (Tok::Bar { double: false, side: Side::Either }, 1),
            '\u{2016}' => (Tok::Bar { double: true, side: Side::Either }, c.len_utf8()),
            ',' => (Tok::Comma, 1),
            ':' if next != Some(':') => (Tok::Colon, 1),
            ';' => (Tok::Semi, 1),
            _ => {
                if let Some(g) = tables::greek_char(c) {
                    (Tok::Name(g.to_string()), c.len_utf8())
                } else {
                    return Err(self.unexpected_char(c));
                }
            }
        };
        self.pos = start + len;
        Ok(tok)
    }

    fn unexpected_char(&self, c: char) -> Error {
        let at = self.pos;
        let end = at + c.len_utf8();
        let (msg, note) = match c {
            '=' => ("`=` is not part of an expression", "give only one side of the equation"),
            '<' | '>' | '\u{2248}' | '\u{2264}' | '\u{2265}' | '\u{2260}' => {
                ("a relation is not part of an expression", "give only one side of the relation")
            }
            '\u{2202}' | '\u{2207}' => (
                "a derivative symbol is not an expression",
                "give the expression to differentiate, and the variable with --wrt",
            ),
            '\u{2192}' | '\u{21d2}' => {
                ("an arrow is not part of an expression", "give only the expression on one side of the arrow")
            }
            '!' => ("factorials are not supported", "see docs/latex.md for what is read"),
            _ => {
                let shown: String = c.escape_debug().collect();
                return self
                    .error(at, end, format!("unexpected character `{shown}`"))
                    .with_label("not part of a LaTeX expression")
                    .with_note("see docs/latex.md for what is read");
            }
        };
        self.error(at, end, msg).with_label("not read here").with_note(note)
    }

    // ----- raw reads for scripts and unbraced arguments ----------------------------------------

    /// One LaTeX unit after `^` or an unbraced `\frac` argument: `{` (a group follows), one
    /// digit, one letter, `-` (for `^-1`), or one command. Wrappers before a group are skipped
    /// (`^\mathsf{T}`). Only valid with no token pending.
    pub fn unit(&mut self) -> Result<Token, Error> {
        debug_assert!(self.queue.is_empty());
        loop {
            // After this, a letter is read here, so `next_token` below never splits a run.
            self.skip_trivia();
            let start = self.pos;
            let Some(c) = self.peek_char() else {
                return Ok(Token { kind: Tok::Eof, span: Span::new(self.last_end, self.last_end) });
            };
            let kind = match c {
                '0'..='9' => {
                    self.pos += 1;
                    Tok::Num(f64::from(c as u8 - b'0'))
                }
                'a'..='z' | 'A'..='Z' => {
                    self.pos += 1;
                    Tok::Name(c.to_string())
                }
                '\\' => {
                    let cmd = self.command_at(start + 1);
                    if tables::wrapper(cmd).is_some() {
                        self.pos = start + 1 + cmd.len();
                        continue;
                    }
                    return self.next_token();
                }
                _ => return self.next_token(),
            };
            return Ok(self.finish(kind, start));
        }
    }

    /// Whether the next character (no spaces skipped) is a digit: `x^23` is ambiguous.
    pub fn digit_follows(&self) -> bool {
        self.peek_char().is_some_and(|c| c.is_ascii_digit())
    }

    /// The text of a subscript after `_`: one letter or digit, a Greek letter, or a braced run
    /// of letters, digits and Greek letters (`W_{12}`, `\beta_{\mathrm{out}}`).
    /// With `commas` (inside a sum), commas are kept in the text (`X_{i,j}`).
    pub fn subscript(&mut self, underscore: Span, commas: bool) -> Result<(String, Span), Error> {
        debug_assert!(self.queue.is_empty());
        self.skip_spaces();
        let start = self.pos;
        let bad = |lx: &Self, end: usize| {
            lx.error(underscore.start, end.max(underscore.end), "expected a name or a number as the subscript")
                .with_label("this subscript is not read")
                .with_note("subscripts name variables: `W_1`, `W_{12}`, `x_i`; norms take `_2`, `_F` or `_1`")
        };
        let Some(c) = self.peek_char() else {
            return Err(bad(self, self.pos));
        };
        if c.is_ascii_alphanumeric() {
            self.pos += 1;
            let text = c.to_string();
            return Ok((text, self.finish_span(start)));
        }
        if c == '\\' {
            let cmd = self.command_at(start + 1);
            if let Some(g) = tables::greek(cmd) {
                self.pos = start + 1 + cmd.len();
                return Ok((g.to_string(), self.finish_span(start)));
            }
            return Err(bad(self, start + 1 + cmd.len()));
        }
        if c != '{' {
            return Err(bad(self, start + c.len_utf8()));
        }
        let mut text = String::new();
        let mut depth = 0usize;
        let mut at = start;
        loop {
            let Some(c) = self.char_at(at) else {
                return Err(bad(self, at));
            };
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        at += 1;
                        break;
                    }
                }
                c if c.is_ascii_alphanumeric() => text.push(c),
                ',' if commas => text.push(','),
                c if c.is_whitespace() => {}
                '\\' => {
                    let cmd = self.command_at(at + 1);
                    if let Some(g) = tables::greek(cmd) {
                        text.push_str(g);
                    } else if tables::wrapper(cmd).is_none() && !tables::is_spacing(cmd) && cmd != "," {
                        return Err(bad(self, at + 1 + cmd.len()));
                    }
                    at += 1 + cmd.len();
                    continue;
                }
                _ => return Err(bad(self, at + c.len_utf8())),
            }
            at += c.len_utf8();
        }
        self.pos = at;
        if text.is_empty() {
            return Err(bad(self, at));
        }
        Ok((text, self.finish_span(start)))
    }

    fn finish_span(&mut self, start: usize) -> Span {
        self.last_end = self.pos;
        Span::new(start, self.pos)
    }

    /// Whether the `\frac` just read (the lexer is after it) is a derivative: `\frac{\partial L}{..}`
    /// or `\frac{dL}{dW}` (with `d` not a declared name). Returns where the fraction ends, if found.
    pub fn frac_derivative(&self) -> Option<usize> {
        let num_open = self.pos + count_spaces(&self.src[self.pos..]);
        if self.char_at(num_open) != Some('{') {
            return None;
        }
        let inside = &self.src[num_open + 1..];
        let inside = inside.trim_start();
        let partial = inside.starts_with("\\partial") || inside.starts_with('\u{2202}');
        let d_form = !self.names.contains("d") && starts_with_d(inside);
        if !partial && !d_form {
            return None;
        }
        let num_end = brace_group_end(self.src, num_open, 512);
        let den_end = num_end.and_then(|e| {
            let den_open = e + count_spaces(&self.src[e..]);
            (self.char_at(den_open) == Some('{')).then_some(den_open)
        });
        if d_form && !partial {
            let den = den_end.map(|o| self.src[o + 1..].trim_start())?;
            if !starts_with_d(den) {
                return None;
            }
        }
        Some(den_end.and_then(|o| brace_group_end(self.src, o, 512)).unwrap_or(num_open + 1))
    }
}

fn count_spaces(s: &str) -> usize {
    s.len() - s.trim_start().len()
}

/// `d` then a letter, a space or a command: the `dL` of `\frac{dL}{dW}` (also `\mathrm{d}`).
fn starts_with_d(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix("\\mathrm{d}") {
        return !rest.starts_with(|c: char| c.is_ascii_digit());
    }
    let mut chars = s.chars();
    chars.next() == Some('d')
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == ' ' || c == '\\' || c == '}')
}

/// The end (just past the `}`) of the brace group opening at `open`, looking at most `limit`
/// bytes ahead.
pub(super) fn brace_group_end(src: &str, open: usize, limit: usize) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    let end = src.len().min(open.saturating_add(limit));
    while i < end {
        match bytes[i] {
            b'\\' => i += 1, // skip an escaped character such as `\{`
            b'{' => depth += 1,
            b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}
