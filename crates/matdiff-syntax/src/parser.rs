//! Pratt parser for programs (definitions, then one expression) with a hard nesting limit.

use std::collections::{HashSet, VecDeque};

use super::ast::{chain_continues, BinOp, Def, Expr, ExprKind, Program};
use super::lexer::{Lexer, Tok, Token};
use super::{FUNCTIONS, MAX_DEPTH, MAX_INPUT_LEN};
use crate::error::{Error, ErrorKind, Input, Span};
use crate::latex::tables;
use crate::latex::to_plain;
use crate::latex::words::{self, RunReading, Undeclared};

/// A plain program and how it was read: when a product was written by juxtaposition (`2Ax`,
/// `A'(Ax - b)`) or `^T` stood for a transpose, the notes start with `read as: …` (the
/// explicit form) and name each run of letters read as a product (`read `Ax` as A*x`).
#[derive(Clone, Debug, PartialEq)]
pub struct PlainRead {
    /// The definitions and the expression.
    pub program: Program,
    /// `read as: …` and the runs of letters read as products; empty for explicit syntax.
    pub notes: Vec<String>,
}

/// What a plain text is, for the one reading choice that depends on it: a declared name that
/// is also a product of declared names (`xx` with `x` and `xx` both declared).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlainMode {
    /// The expression of a problem: such a run is the declared name, unless the input also
    /// writes products by juxtaposition (then it is an error listing the readings).
    Expression,
    /// A claimed answer, typed by hand: such a run is always an error listing the readings.
    Claim,
}

/// Parse definitions (`name = expr`, ended by `;` or a line break) followed by one expression.
/// No name is declared: a run of letters with a capital is a product (`Ax`), others are names.
pub fn parse_program(src: &str) -> Result<Program, Error> {
    parse_plain(src, &[], PlainMode::Expression).map(|r| r.program)
}

/// Parse a plain program, reading juxtaposed names against `names` (the declared ones, or a
/// problem's variables for a claim): a run that is a declared name is that name, one that can
/// be written with declared names in exactly one way is their product (`xx` is `x*x`), one
/// that can be written in several ways is an error listing them; otherwise a run with a capital
/// letter splits into letters with their digits (`W1x` is `W1*x`, by the letter defaults) and
/// an all-lowercase run (`lam`) is one name. Definitions' names count as declared after them.
pub fn parse_plain(src: &str, names: &[&str], mode: PlainMode) -> Result<PlainRead, Error> {
    check_length(src, Input::Expr)?;
    let mut parser = Parser::new(src, Input::Expr, true);
    parser.set_names(names);
    parser.mode = mode;
    let program = parser.program()?.rebalance();
    if let Some(err) = parser.deferred.take().filter(|_| parser.implicit) {
        return Err(err);
    }
    Ok(PlainRead { notes: parser.notes(&program), program })
}

/// Parse exactly one expression; definitions are an error.
pub fn parse_expr(src: &str) -> Result<Expr, Error> {
    check_length(src, Input::Expr)?;
    Parser::new(src, Input::Expr, false).program().map(|p| p.rebalance().body)
}

/// Refuse huge inputs up front, before spending time lexing them.
pub(crate) fn check_length(src: &str, input: Input) -> Result<(), Error> {
    if src.len() > MAX_INPUT_LEN {
        let msg = format!("input too long: {} bytes (the limit is {MAX_INPUT_LEN})", src.len());
        return Err(Error::unspanned(input, msg).with_kind(ErrorKind::Limit));
    }
    Ok(())
}

/// Binding powers. Binary operators get (left, right); left < right means left-associative.
const ADD_BP: (u8, u8) = (2, 3);
/// `A : B`, the Frobenius product `sum(A.*B)`: tighter than `+`, looser than any product.
const COLON_BP: (u8, u8) = (4, 5);
/// `*` `/` and `.*` `./` chain left to right among themselves (`A.*B*C` is `(A.*B)*C`)...
const MUL_BP: (u8, u8) = (6, 8);
const EMUL_BP: (u8, u8) = (6, 7);
/// ... while a product by juxtaposition is as tight as `*` after a `*` (`a*b c` is `(a*b)*c`,
/// `1/2x` is `(1/2)*x`) but tighter after `.*` and `./`: `y .* Ax` is `y.*(A*x)`.
const JUX_BP: (u8, u8) = (7, 8);
/// The operand of prefix `-` is parsed at this power: tighter than any product, looser than
/// `^`, so `-x^2` is `-(x^2)`, `-D/2` is `(-D)/2` and `A^-1b` is `A^-1*b`.
const PREFIX_BP: u8 = 9;
/// Right-associative: `2^3^2` is `2^(3^2)`; the right side may be `-1` (a prefix).
const POW_BP: (u8, u8) = (11, 10);

fn binary_op(kind: Tok) -> Option<(BinOp, (u8, u8))> {
    Some(match kind {
        Tok::Plus => (BinOp::Add, ADD_BP),
        Tok::Minus => (BinOp::Sub, ADD_BP),
        Tok::Star => (BinOp::Mul, MUL_BP),
        Tok::Slash => (BinOp::Div, MUL_BP),
        Tok::DotStar => (BinOp::EMul, EMUL_BP),
        Tok::DotSlash => (BinOp::EDiv, EMUL_BP),
        Tok::Caret => (BinOp::Pow, POW_BP),
        Tok::DotCaret => (BinOp::EPow, POW_BP),
        // Read as `sum(A.*B)` when the operator is reduced.
        Tok::Colon => (BinOp::EMul, COLON_BP),
        _ => return None,
    })
}

/// A parsed expression with the nesting depth it was written with: every node counts, and so
/// do parentheses and unary `+`, which leave no node but still nest the text (and the parser).
struct Node {
    expr: Expr,
    depth: usize,
}

/// Where an operand was expected, for the label of "expected an expression" errors.
#[derive(Clone, Copy)]
enum Ctx<'a> {
    /// The start of a statement; `after_newline` when a previous statement ended at a line break.
    Start {
        after_newline: bool,
    },
    RightOf(BinOp),
    Prefix(&'static str),
    Paren,
    Arg(&'a str),
    Value(&'a str),
}

impl Ctx<'_> {
    fn label(self) -> String {
        match self {
            Ctx::Start { .. } => "expected an expression here".to_string(),
            Ctx::RightOf(op) => format!("expected the right operand of `{}` here", op.symbol()),
            Ctx::Prefix(op) => format!("expected an operand for `{op}` here"),
            Ctx::Paren => "expected an expression inside the parentheses".to_string(),
            Ctx::Arg(f) => format!("expected an argument of `{f}` here"),
            Ctx::Value(name) => format!("expected the value of `{name}` here"),
        }
    }
}

/// A construct waiting for its (next) operand while the parser reads it.
enum Frame {
    /// `-` or `+`, waiting for its operand.
    Prefix { op: Token },
    /// `lhs op`, waiting for the right operand.
    Binary { lhs: Node, op: BinOp, op_tok: Token, rbp: u8 },
    /// `(`, waiting for its contents and the `)`.
    Paren { lparen: Token },
    /// `name(args,`, waiting for the next argument; `depth` is the deepest argument so far.
    Call { name: Token, lparen: Token, args: Vec<Expr>, depth: usize },
}

impl Frame {
    /// The binding power the operand being read must respect.
    fn min_bp(&self) -> u8 {
        match self {
            Frame::Prefix { .. } => PREFIX_BP,
            Frame::Binary { rbp, .. } => *rbp,
            _ => 0,
        }
    }

    fn is_open_paren(&self) -> bool {
        matches!(self, Frame::Paren { .. } | Frame::Call { .. })
    }

    /// What the operand being read is for, to label "expected an expression" errors.
    fn ctx<'s>(&self, src: &'s str) -> Ctx<'s> {
        match self {
            Frame::Prefix { op } if op.kind == Tok::Minus => Ctx::Prefix("-"),
            Frame::Prefix { .. } => Ctx::Prefix("+"),
            Frame::Binary { op, .. } => Ctx::RightOf(*op),
            Frame::Paren { .. } => Ctx::Paren,
            Frame::Call { name, .. } => Ctx::Arg(src.get(name.span.start..name.span.end).unwrap_or("")),
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    /// Tokens lexed but not consumed; at most two (to tell `name =` from an expression).
    ahead: VecDeque<Token>,
    input: Input,
    allow_defs: bool,
    /// Constructs waiting for an operand, innermost last (see `expr`).
    stack: Vec<Frame>,
    /// How many of those are `(`s, inside which line breaks are insignificant.
    open_parens: usize,
    /// Declared names (and definitions so far), against which runs of letters are read.
    names: HashSet<String>,
    longest_name: usize,
    /// Whether a product was written by juxtaposition or `^T` read as a transpose.
    implicit: bool,
    /// Runs of letters read as products (`read `Ax` as A*x`).
    split_notes: Vec<String>,
    mode: PlainMode,
    /// A declared name that is also a product of declared names, read as the name: an error
    /// if the input turns out to write products by juxtaposition.
    deferred: Option<Error>,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, input: Input, allow_defs: bool) -> Self {
        Parser {
            src,
            lexer: Lexer::new(src, input),
            ahead: VecDeque::new(),
            input,
            allow_defs,
            stack: Vec::new(),
            open_parens: 0,
            names: HashSet::new(),
            longest_name: 0,
            implicit: false,
            split_notes: vec![],
            mode: PlainMode::Expression,
            deferred: None,
        }
    }

    fn set_names(&mut self, names: &[&str]) {
        for n in names {
            self.add_name(n);
        }
    }

    fn add_name(&mut self, n: &str) {
        self.names.insert(n.to_string());
        self.longest_name = self.longest_name.max(n.len());
    }

    /// `read as: …` when anything was read implicitly, then the runs read as products.
    fn notes(&mut self, program: &Program) -> Vec<String> {
        if !self.implicit {
            return vec![];
        }
        let mut read: Vec<String> =
            program.defs.iter().map(|d| format!("{} = {}", d.name, to_plain(&d.value))).collect();
        read.push(to_plain(&program.body));
        let mut notes = vec![format!("read as: {}", read.join("; "))];
        notes.append(&mut self.split_notes);
        notes
    }

    // ----- token access ------------------------------------------------------------------

    fn peek_nth(&mut self, n: usize) -> Result<Token, Error> {
        while self.ahead.len() <= n {
            let tok = self.lexer.next_token()?;
            self.ahead.push_back(tok);
        }
        Ok(self.ahead[n])
    }

    fn peek(&mut self) -> Result<Token, Error> {
        self.peek_nth(0)
    }

    /// Consume the token last returned by `peek`.
    fn bump(&mut self) {
        self.ahead.pop_front();
    }

    fn skip_newlines(&mut self) -> Result<Token, Error> {
        loop {
            let tok = self.peek()?;
            if tok.kind != Tok::Newline {
                return Ok(tok);
            }
            self.bump();
        }
    }

    /// The token where an operand must start: a line break cannot end the statement here
    /// (`a +` at the end of a line continues on the next), so it is skipped.
    fn peek_operand(&mut self) -> Result<Token, Error> {
        self.skip_newlines()
    }

    /// The token after a complete operand: at the top level a line break ends the
    /// statement; inside parentheses it is just whitespace.
    fn peek_after_operand(&mut self) -> Result<Token, Error> {
        if self.open_parens == 0 {
            self.peek()
        } else {
            self.skip_newlines()
        }
    }

    fn text(&self, span: Span) -> &'a str {
        self.src.get(span.start..span.end).unwrap_or("")
    }

    fn error(&self, span: Span, msg: impl Into<String>) -> Error {
        Error::new(self.input, span, msg)
    }

    // ----- nesting limit -----------------------------------------------------------------

    /// Check the depth of a node being built; chains like `x+x+x` and `x'''` grow the tree
    /// without nesting pending constructs, so they are caught here rather than in `push`.
    fn node(&self, kind: ExprKind, span: Span, depth: usize, at: Span) -> Result<Node, Error> {
        if depth > MAX_DEPTH {
            return Err(self.too_deep(at));
        }
        Ok(Node { expr: Expr { kind, span }, depth })
    }

    fn too_deep(&self, at: Span) -> Error {
        self.error(at, format!("expression nested too deeply (more than {MAX_DEPTH} levels)"))
            .with_kind(ErrorKind::Limit)
            .with_label("the nesting limit is exceeded here")
    }

    // ----- statements --------------------------------------------------------------------

    fn program(&mut self) -> Result<Program, Error> {
        let mut defs = Vec::new();
        loop {
            let saw_newline = self.skip_separators()?;
            let tok = self.peek()?;
            if tok.kind == Tok::Eof {
                return Err(self.missing_body(tok, &defs));
            }
            if tok.kind == Tok::Ident && self.peek_nth(1)?.kind == Tok::Eq {
                let def = self.definition(tok)?;
                self.end_of_statement(Some(&def.name), def.value.span)?;
                self.add_name(&def.name.clone());
                defs.push(def);
                continue;
            }
            let start = Ctx::Start { after_newline: saw_newline && !defs.is_empty() };
            let body = self.expr(start)?.expr;
            self.end_of_statement(None, body.span)?;
            let saw_newline = self.skip_separators()?;
            let tok = self.peek()?;
            if tok.kind != Tok::Eof {
                return Err(self.after_final(tok, saw_newline));
            }
            return Ok(Program { defs, body });
        }
    }

    /// Skip `;` and line breaks between statements; reports whether a line break was seen.
    fn skip_separators(&mut self) -> Result<bool, Error> {
        let mut saw_newline = false;
        loop {
            match self.peek()?.kind {
                Tok::Semi => {}
                Tok::Newline => saw_newline = true,
                _ => return Ok(saw_newline),
            }
            self.bump();
        }
    }

    /// `name = expr`, with `name` the current token and `=` the next.
    fn definition(&mut self, name_tok: Token) -> Result<Def, Error> {
        let name = self.text(name_tok.span);
        if !self.allow_defs {
            let eq = self.peek_nth(1)?;
            return Err(self
                .error(name_tok.span.join(eq.span), "definitions are not allowed here")
                .with_label(format!("this defines `{name}`"))
                .with_note("only a single expression is accepted here"));
        }
        self.bump();
        self.bump();
        let value = self.expr(Ctx::Value(name))?.expr;
        Ok(Def { name: name.to_string(), name_span: name_tok.span, value })
    }

    /// After a definition or the final expression: only `;`, a line break or the end may follow.
    fn end_of_statement(&mut self, def: Option<&str>, lhs: Span) -> Result<(), Error> {
        let tok = self.peek()?;
        match tok.kind {
            Tok::Semi | Tok::Newline | Tok::Eof => Ok(()),
            Tok::RParen => Err(self.unmatched_rparen(tok)),
            Tok::Eq => Err(self.misplaced_eq(tok, def, lhs)),
            _ => Err(self.expected_operator(tok)),
        }
    }

    fn expected_operator(&self, tok: Token) -> Error {
        let expected = if self.allow_defs {
            "expected an operator, `;` or a line break"
        } else {
            "expected an operator or the end of the expression"
        };
        let err =
            self.error(tok.span, format!("{expected}, found {}", tok.describe(self.src))).with_label("unexpected here");
        implicit_product_hint(err, tok)
    }

    fn unmatched_rparen(&self, tok: Token) -> Error {
        self.error(tok.span, "unmatched `)`").with_label("there is no `(` for this to close")
    }

    fn misplaced_eq(&self, tok: Token, def: Option<&str>, lhs: Span) -> Error {
        match def {
            Some(name) => self
                .error(tok.span, format!("unexpected `=` after the definition of `{name}`"))
                .with_label("expected `;` or a line break here")
                .with_note("each definition is a single `name = expression`"),
            None if !self.allow_defs => self
                .error(tok.span, "definitions are not allowed here")
                .with_label("unexpected `=`")
                .with_note("only a single expression is accepted here"),
            None => self
                .error(lhs, "the left side of `=` must be a single name")
                .with_label("this is not a name")
                .with_note("definitions look like `h = W*x + b`"),
        }
    }

    fn missing_body(&self, eof: Token, defs: &[Def]) -> Error {
        match defs.last() {
            None => {
                self.error(eof.span, "empty input: expected an expression").with_label("expected an expression here")
            }
            Some(last) => self
                .error(eof.span, "expected a final expression after the definitions")
                .with_label("the input ends here")
                .with_note(format!("end the input with the expression to compute, e.g. `{}`", last.name)),
        }
    }

    /// Something after the final expression. The likeliest causes: a line starting with a
    /// binary operator (which does not continue the previous line), or a stray expression
    /// statement before the last one.
    fn after_final(&self, tok: Token, saw_newline: bool) -> Error {
        let err = self
            .error(tok.span, format!("expected the end of the input, found {}", tok.describe(self.src)))
            .with_label("this comes after the final expression");
        if saw_newline && binary_op(tok.kind).is_some() {
            err.with_note(self.leading_operator_note(tok))
        } else if !self.allow_defs {
            err.with_note("only a single expression is accepted here")
        } else {
            err.with_note(
                "only the last statement may be an expression; the ones before it must be definitions like `h = ...`",
            )
        }
    }

    fn leading_operator_note(&self, tok: Token) -> String {
        let op = tok.describe(self.src);
        format!("a line cannot start with {op}; to continue an expression on the next line, end the previous line with {op}")
    }

    // ----- expressions -------------------------------------------------------------------
    //
    // A Pratt parser run on an explicit stack of pending constructs instead of recursion, so
    // the native stack stays flat however deep the input (and in unoptimized builds too).

    /// One expression, with operators binding at least as tightly as 0 (i.e. all of them).
    fn expr(&mut self, bottom: Ctx<'a>) -> Result<Node, Error> {
        debug_assert!(self.stack.is_empty() && self.open_parens == 0);
        'operand: loop {
            let mut lhs = self.operand(bottom)?;
            loop {
                let tok = self.peek_after_operand()?;
                if tok.kind == Tok::Quote {
                    // Postfix `'` binds tighter than anything, so it always applies here.
                    self.bump();
                    lhs = self.transpose(lhs, tok)?;
                    continue;
                }
                if tok.kind == Tok::Caret {
                    if let Some(node) = self.transpose_script(&lhs)? {
                        lhs = self.scripted(lhs, node)?;
                        continue;
                    }
                }
                let min_bp = self.stack.last().map_or(0, Frame::min_bp);
                if let Some((op, (lbp, rbp))) = binary_op(tok.kind) {
                    if lbp >= min_bp {
                        self.bump();
                        self.push(Frame::Binary { lhs, op, op_tok: tok, rbp }, tok.span)?;
                        continue 'operand;
                    }
                } else if tok.starts_atom() {
                    // Two operands side by side: a product (`2W`, `A'x`, `(A + A')x`, `W1 x`).
                    if matches!(lhs.expr.kind, ExprKind::Num(_)) && matches!(tok.kind, Tok::Num(_)) {
                        return Err(self
                            .error(lhs.expr.span.join(tok.span), "two numbers side by side")
                            .with_label("is this one number, or a product?")
                            .with_note("write a product with `*`, e.g. `2*3`"));
                    }
                    if JUX_BP.0 >= min_bp {
                        self.implicit = true;
                        let at = Token { kind: Tok::Star, span: Span::new(tok.span.start, tok.span.start) };
                        self.push(Frame::Binary { lhs, op: BinOp::Mul, op_tok: at, rbp: JUX_BP.1 }, tok.span)?;
                        continue 'operand;
                    }
                }
                // No operator continues `lhs`: it completes the innermost pending construct.
                let Some(frame) = self.pop() else {
                    return Ok(lhs);
                };
                match self.reduce(frame, lhs, tok)? {
                    Some(node) => lhs = node,
                    None => continue 'operand,
                }
            }
        }
    }

    /// Push a pending construct, refusing to nest deeper than `MAX_DEPTH`. Every pending
    /// construct wraps at least one level around what follows, so refusing here never rejects
    /// a tree that would fit, and stops `((((...` at the first level too many.
    fn push(&mut self, frame: Frame, at: Span) -> Result<(), Error> {
        if self.stack.len() + 1 >= MAX_DEPTH {
            return Err(self.too_deep(at));
        }
        if frame.is_open_paren() {
            self.open_parens += 1;
        }
        self.stack.push(frame);
        Ok(())
    }

    fn pop(&mut self) -> Option<Frame> {
        let frame = self.stack.pop()?;
        if frame.is_open_paren() {
            self.open_parens -= 1;
        }
        Some(frame)
    }

    /// Read prefix operators and `(`s (pushing them) up to an atom: a number, a name, or `f()`.
    fn operand(&mut self, bottom: Ctx<'a>) -> Result<Node, Error> {
        loop {
            let tok = self.peek_operand()?;
            match tok.kind {
                Tok::Num(v) => {
                    self.bump();
                    return Ok(Node { expr: Expr { kind: ExprKind::Num(v), span: tok.span }, depth: 1 });
                }
                Tok::Ident => {
                    self.bump();
                    // No line break allowed between a function name and its `(`.
                    if self.peek()?.kind == Tok::LParen && self.is_call(self.text(tok.span)) {
                        if let Some(call) = self.open_call(tok)? {
                            return Ok(call);
                        }
                        continue;
                    }
                    return self.name_run(tok);
                }
                Tok::LParen => {
                    self.bump();
                    self.push(Frame::Paren { lparen: tok }, tok.span)?;
                }
                Tok::Minus | Tok::Plus => {
                    self.bump();
                    self.push(Frame::Prefix { op: tok }, tok.span)?;
                }
                _ => {
                    let ctx = self.stack.last().map_or(bottom, |f| f.ctx(self.src));
                    return Err(self.expected_expression(tok, ctx));
                }
            }
        }
    }

    /// Whether `name(` is a call: a function that is not a declared name, or a word that
    /// is not a product of names (`foo(x)`: an unknown function, reported when lowered). A
    /// declared name, a letter with digits (`A(x + b)`, `W2(..)`) or a run read as a product
    /// before `(` multiplies the parentheses.
    fn is_call(&self, name: &str) -> bool {
        if self.names.contains(name) {
            return false;
        }
        if FUNCTIONS.contains(&name) {
            return true;
        }
        let letter = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name.chars().skip(1).all(|c| c.is_ascii_digit());
        !letter && self.run_reading(name) == RunReading::Whole
    }

    /// How a run of letters reads (see [`parse_plain`]); words, Greek names, functions and
    /// names with `_` are one name.
    fn run_reading(&self, run: &str) -> RunReading {
        let plain_run = run.len() <= words::MAX_RUN
            && run.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && run.chars().all(|c| c.is_ascii_alphanumeric());
        if !plain_run || tables::greek(run).is_some() || (FUNCTIONS.contains(&run) && !self.names.contains(run)) {
            return RunReading::Whole;
        }
        words::read_run(run, &self.names, self.longest_name, Undeclared::SplitCapitals)
    }

    /// A name, or the first name of a run read as a product, the others queued as tokens.
    fn name_run(&mut self, tok: Token) -> Result<Node, Error> {
        let run = self.text(tok.span);
        let pieces = match self.run_reading(run) {
            RunReading::Whole => {
                let kind = ExprKind::Name(run.to_string());
                return Ok(Node { expr: Expr { kind, span: tok.span }, depth: 1 });
            }
            RunReading::Split(pieces) => pieces,
            RunReading::Ambiguous(ways) => {
                let shown: Vec<String> = ways
                    .iter()
                    .map(|w| format!("`{}`", w.iter().map(|p| &run[p.start..p.end]).collect::<Vec<_>>().join("*")))
                    .collect();
                let err = self
                    .error(tok.span, format!("`{run}` can be read {} ways", shown.len()))
                    .with_label(format!("{} are all declared", shown.join(", ")))
                    .with_note(format!("write one of {} explicitly", shown.join(" or ")))
                    .with_note("a run of letters is read against the declared names; here it fits several");
                let whole = ways.iter().any(|w| w.len() == 1);
                if !whole || self.mode == PlainMode::Claim {
                    return Err(err);
                }
                // With explicit operators throughout, a declared name is that name.
                self.deferred.get_or_insert(err);
                let kind = ExprKind::Name(run.to_string());
                return Ok(Node { expr: Expr { kind, span: tok.span }, depth: 1 });
            }
        };
        self.implicit = true;
        let read: Vec<&str> = pieces.iter().map(|p| &run[p.start..p.end]).collect();
        let note = format!("read `{run}` as {}", read.join("*"));
        if !self.split_notes.contains(&note) {
            self.split_notes.push(note);
        }
        let start = tok.span.start;
        for p in pieces[1..].iter().rev() {
            self.ahead.push_front(Token { kind: Tok::Ident, span: Span::new(start + p.start, start + p.end) });
        }
        let first = pieces[0];
        let span = Span::new(start + first.start, start + first.end);
        let kind = ExprKind::Name(run[first.start..first.end].to_string());
        Ok(Node { expr: Expr { kind, span }, depth: 1 })
    }

    /// `^T` (the transpose, when `T` is not a declared name) or `^-T` (the transpose of the
    /// inverse) with `^` next: consumes it and says which. A run starting with the `T`
    /// (`x^TAx`) keeps its remainder as the next operand.
    fn transpose_script(&mut self, lhs: &Node) -> Result<Option<Script>, Error> {
        if self.names.contains("T") {
            return Ok(None);
        }
        let _ = lhs;
        let mut at = 1;
        let minus = self.peek_nth(1)?.kind == Tok::Minus;
        if minus {
            at = 2;
        }
        let t = self.peek_nth(at)?;
        if t.kind != Tok::Ident {
            return Ok(None);
        }
        let text = self.text(t.span);
        let rest = &text[1..];
        if !text.starts_with('T')
            || self.names.contains(text)
            || rest.starts_with(|c: char| c.is_ascii_digit() || c == '_')
        {
            return Ok(None);
        }
        for _ in 0..=at {
            self.bump();
        }
        if !rest.is_empty() {
            self.ahead.push_front(Token { kind: Tok::Ident, span: Span::new(t.span.start + 1, t.span.end) });
        }
        self.implicit = true;
        let t_span = Span::new(t.span.start, t.span.start + 1);
        Ok(Some(if minus { Script::InverseTranspose(t_span) } else { Script::Transpose(t_span) }))
    }

    fn scripted(&self, lhs: Node, script: Script) -> Result<Node, Error> {
        match script {
            Script::Transpose(t) => self.transpose(lhs, Token { kind: Tok::Quote, span: t }),
            Script::InverseTranspose(t) => {
                let one = Expr { kind: ExprKind::Num(1.0), span: t };
                let minus_one = Expr { kind: ExprKind::Neg(Box::new(one)), span: t };
                let span = lhs.expr.span.join(t);
                let kind = ExprKind::Binary(BinOp::Pow, Box::new(lhs.expr), Box::new(minus_one));
                let inv = self.node(kind, span, lhs.depth + 1, t)?;
                self.transpose(inv, Token { kind: Tok::Quote, span: t })
            }
        }
    }

    /// `name(` with `(` next: finish the call at once if it has no arguments, else push it.
    fn open_call(&mut self, name: Token) -> Result<Option<Node>, Error> {
        let lparen = self.peek()?;
        self.bump();
        let tok = self.peek_operand()?;
        if tok.kind == Tok::RParen {
            self.bump();
            return Ok(Some(self.call_node(name, Vec::new(), 0, tok)?));
        }
        self.push(Frame::Call { name, lparen, args: Vec::new(), depth: 0 }, lparen.span)?;
        Ok(None)
    }

    /// Complete `frame` with its last operand `lhs`; `tok` is the (unconsumed) token after
    /// `lhs`. Returns `None` when a call wants another argument (the frame is pushed back).
    fn reduce(&mut self, frame: Frame, lhs: Node, tok: Token) -> Result<Option<Node>, Error> {
        let node = match frame {
            Frame::Prefix { op } => self.prefix(op, lhs)?,
            Frame::Binary { lhs: left, op, op_tok, .. } if op_tok.kind == Tok::Colon => {
                // `A : B` is the Frobenius product sum(A.*B).
                let span = left.expr.span.join(lhs.expr.span);
                let depth = 2 + left.depth.max(lhs.depth);
                let prod = Expr { kind: ExprKind::Binary(op, Box::new(left.expr), Box::new(lhs.expr)), span };
                let kind = ExprKind::Call { func: "sum".into(), func_span: op_tok.span, args: vec![prod] };
                self.implicit = true;
                self.node(kind, span, depth, op_tok.span)?
            }
            Frame::Binary { lhs: left, op, op_tok, .. } => {
                let span = left.expr.span.join(lhs.expr.span);
                // `a + b + c` is one level, however long: only nesting counts.
                let depth = if chain_continues(op, &left.expr) {
                    left.depth.max(1 + lhs.depth)
                } else {
                    1 + left.depth.max(lhs.depth)
                };
                let kind = ExprKind::Binary(op, Box::new(left.expr), Box::new(lhs.expr));
                self.node(kind, span, depth, op_tok.span)?
            }
            Frame::Paren { lparen } => {
                if tok.kind != Tok::RParen {
                    return Err(self.unclosed(lparen, tok, "expected `)` or an operator", None));
                }
                self.bump();
                // No node for the parentheses, but the span covers them.
                self.node(lhs.expr.into_kind(), lparen.span.join(tok.span), lhs.depth + 1, lparen.span)?
            }
            Frame::Call { name, lparen, mut args, depth } => {
                let depth = depth.max(lhs.depth);
                args.push(lhs.expr);
                match tok.kind {
                    Tok::Comma => {
                        self.bump();
                        self.push(Frame::Call { name, lparen, args, depth }, lparen.span)?;
                        return Ok(None);
                    }
                    Tok::RParen => {
                        self.bump();
                        self.call_node(name, args, depth, tok)?
                    }
                    _ => {
                        let func = self.text(name.span);
                        let expected = format!("expected `,` or `)` in the argument list of `{func}`");
                        return Err(self.unclosed(lparen, tok, &expected, Some(func)));
                    }
                }
            }
        };
        Ok(Some(node))
    }

    fn transpose(&self, lhs: Node, quote: Token) -> Result<Node, Error> {
        let span = lhs.expr.span.join(quote.span);
        self.node(ExprKind::Transpose(Box::new(lhs.expr)), span, lhs.depth + 1, quote.span)
    }

    /// `-operand`, or `+operand`: a no-op that leaves no node but still counts as a level.
    fn prefix(&self, op: Token, operand: Node) -> Result<Node, Error> {
        let span = op.span.join(operand.expr.span);
        let depth = operand.depth + 1;
        let kind = match op.kind {
            Tok::Minus => ExprKind::Neg(Box::new(operand.expr)),
            _ => operand.expr.into_kind(),
        };
        self.node(kind, span, depth, op.span)
    }

    /// `name(args)`; `depth` is that of the deepest argument (0 for none).
    fn call_node(&self, name: Token, args: Vec<Expr>, depth: usize, rparen: Token) -> Result<Node, Error> {
        let func = self.text(name.span).to_string();
        let kind = ExprKind::Call { func, func_span: name.span, args };
        self.node(kind, name.span.join(rparen.span), depth + 1, name.span)
    }

    fn expected_expression(&self, tok: Token, ctx: Ctx<'_>) -> Error {
        let msg = format!("expected an expression, found {}", tok.describe(self.src));
        let err = self.error(tok.span, msg).with_label(ctx.label());
        match (tok.kind, ctx) {
            (Tok::RParen, Ctx::Start { .. } | Ctx::Value(_)) => err.with_note("this `)` has no matching `(`"),
            (_, Ctx::Start { after_newline: true }) if binary_op(tok.kind).is_some() => {
                err.with_note(self.leading_operator_note(tok))
            }
            (Tok::Star, Ctx::RightOf(BinOp::Mul)) => err.with_note("write `^` for a power, e.g. `x^2`"),
            (Tok::Eq, Ctx::Value(_)) => err.with_note("each definition is a single `name = expression`"),
            _ => err,
        }
    }

    /// The token after a `(`'s contents is not `)`: either the input ended ("unclosed `(`",
    /// pointing at the `(`) or something else is in the way (pointing at it).
    fn unclosed(&self, lparen: Token, tok: Token, expected: &str, func: Option<&str>) -> Error {
        if tok.kind == Tok::Eof {
            let label = match func {
                Some(f) => format!("the argument list of `{f}` is never closed"),
                None => "this `(` is never closed".to_string(),
            };
            let (line, col) = line_col(self.src, tok.span.start);
            return self
                .error(lparen.span, "unclosed `(`")
                .with_label(label)
                .with_note(format!("the input ended at line {line}, column {col}, before a matching `)`"));
        }
        let err = self
            .error(tok.span, format!("{expected}, found {}", tok.describe(self.src)))
            .with_label("expected `)` before this");
        let (line, col) = line_col(self.src, lparen.span.start);
        let err = err.with_note(format!("the `(` at line {line}, column {col} is still open"));
        implicit_product_hint(err, tok)
    }
}

/// A `^T` or `^-T` script read as a transpose, with the span of its `T`.
enum Script {
    Transpose(Span),
    InverseTranspose(Span),
}

/// (Juxtaposition is a product now, so no hint is needed where one was.)
fn implicit_product_hint(err: Error, _tok: Token) -> Error {
    err
}

/// 1-based line and column (in characters) of a byte offset, for notes.
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::to_sexpr;

    fn sexpr(src: &str) -> String {
        to_sexpr(&parse_expr(src).unwrap_or_else(|e| panic!("{src}: {e}")))
    }

    #[test]
    fn unary_minus_is_looser_than_power_and_tighter_than_products() {
        assert_eq!(sexpr("-x^2"), "(neg (^ x 2))");
        assert_eq!(sexpr("-D/2*y"), "(* (/ (neg D) 2) y)");
        assert_eq!(sexpr("a*-b"), "(* a (neg b))");
    }

    #[test]
    fn power_is_right_associative_and_takes_a_negative_exponent() {
        assert_eq!(sexpr("2^3^2"), "(^ 2 (^ 3 2))");
        assert_eq!(sexpr("a^-1*b"), "(* (^ a (neg 1)) b)");
        assert_eq!(sexpr("x.^-2"), "(.^ x (neg 2))");
    }

    #[test]
    fn transpose_binds_tightest() {
        assert_eq!(sexpr("x'*A*x"), "(* (* (' x) A) x)");
        assert_eq!(sexpr("(a+b)'"), "(' (+ a b))");
        assert_eq!(sexpr("exp(x)'"), "(' (call exp x))");
        assert_eq!(sexpr("f(x)'"), "(* f (' x))");
        assert_eq!(sexpr("W''"), "(' (' W))");
    }

    #[test]
    fn additive_and_multiplicative_are_left_associative() {
        assert_eq!(sexpr("a-b+c"), "(+ (- a b) c)");
        assert_eq!(sexpr("a/b.*c./d"), "(./ (.* (/ a b) c) d)");
        assert_eq!(sexpr("a+b*c"), "(+ a (* b c))");
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col("ab\néx", 5), (2, 2));
        assert_eq!(line_col("", 0), (1, 1));
    }
}
