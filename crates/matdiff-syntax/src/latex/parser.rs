//! LaTeX parser: a Pratt loop over an explicit stack of pending constructs, never recursing.
//!
//! Every construct that waits for an expression (`(`, `|`, `\frac{`, `^{`, `\log` before its
//! argument, an operator before its right operand) is a [`Frame`] on one stack, so the native
//! stack stays flat however deep the input, and the stack's length enforces `MAX_DEPTH`.

use std::collections::HashSet;

use super::lexer::{Delim, Lexer, Tok, Token};
use super::plain::{to_plain, to_plain_snippet};
use super::sums::{self, INDEXED};
use super::tables::Side;
use super::LatexRead;
use crate::ast::{chain_continues, BinOp, Expr, ExprKind, Program};
use crate::error::{Error, Input, Span};
use crate::parser::check_length;
use crate::MAX_DEPTH;

/// Binding powers (left, right); left < right is left-associative. Juxtaposition is a product
/// at the same level as `\cdot`, so `1/2 x` is `(1/2)*x`; elementwise `\odot`, `\circ` and
/// `\oslash` bind more loosely, so `y \odot Ax` is `y.*(A*x)`.
const ADD_BP: (u8, u8) = (1, 2);
/// `A : B`, the Frobenius product: tighter than `+`, looser than any product.
const COLON_BP: (u8, u8) = (3, 4);
const EMUL_BP: (u8, u8) = (5, 6);
const MUL_BP: (u8, u8) = (7, 8);
/// Prefix minus takes a whole product: `-\frac{D}{2} z` is `-(D/2*z)`.
const PREFIX_BP: u8 = 5;
/// Nothing binary binds inside: the argument of `\log|K|` is the bars alone.
const FACTOR_BP: u8 = 11;
/// The internal name of `\langle a, b \rangle` while it is read (a call with two arguments).
const ANGLE: &str = "<,>";
/// The internal name of `\sigma'(z)`, the derivative of the sigmoid, while it is read.
const SIGMOID_PRIME: &str = "sigmoid'";

pub(super) fn parse(src: &str, names: &[&str]) -> Result<LatexRead, Error> {
    check_length(src, Input::Expr)?;
    let names: HashSet<String> = names
        .iter()
        .filter(|n| {
            n.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && n.chars().all(|c| c.is_ascii_alphanumeric())
        })
        .map(|n| n.to_string())
        .collect();
    let mut parser = Parser { src, lexer: Lexer::new(src, &names), ahead: None, stack: Vec::new(), notes: Vec::new() };
    // Regrouped before anything walks it recursively (the `read as` printer, lowering).
    let body = parser.expr()?.expr.rebalance();
    parser.finish()?;
    let mut notes = vec![format!("read as: {}", to_plain(&body))];
    for note in parser.lexer.notes.drain(..).chain(parser.notes) {
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    Ok(LatexRead { program: Program { defs: vec![], body }, notes })
}

/// What an operand is, for the constructs that care: subscripts extend names and pick norms,
/// `e^{..}` is `exp`, and two numbers side by side are refused.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tag {
    Plain,
    Num,
    /// A bare name, which a subscript extends (`W_1` is `W1`).
    Name,
    /// A name that took its subscript (`W_1`): a second one is an error, as in LaTeX.
    Indexed,
    /// `\|..\|`, which `_2`, `_F` or `_1` may follow.
    Norm,
    /// `\|..\|^2`, which may still take its `_2` (`\|v\|^2_2`).
    NormPow,
    /// `(..)` or `[..]`, which a sum's index may follow (`\sum_i (Ax - b)_i^2`).
    Group,
}

/// A parsed expression with its nesting depth (groups count, as in the plain parser).
struct Node {
    expr: Expr,
    depth: usize,
    tag: Tag,
}

/// A binary operator met after an operand: explicit, or a product by juxtaposition.
struct Infix {
    op: BinOp,
    lbp: u8,
    rbp: u8,
    implicit: bool,
}

/// A construct waiting for its (next) operand.
enum Frame {
    Prefix {
        neg: bool,
        span: Span,
    },
    Binary {
        lhs: Node,
        op: BinOp,
        op_span: Span,
        rbp: u8,
        implicit: bool,
    },
    Group {
        delim: Delim,
        open: Span,
    },
    Bars {
        double: bool,
        open: Span,
    },
    FracNum {
        frac: Span,
        open: Span,
    },
    FracDen {
        frac: Span,
        open: Span,
        num: Node,
    },
    Sup {
        base: Node,
        open: Span,
    },
    CallGroup {
        func: String,
        func_span: Span,
        delim: Delim,
        open: Span,
        args: Vec<Expr>,
        depth: usize,
    },
    /// A function before an undelimited argument: a product (`\operatorname{tr} A B`) or,
    /// with `factor`, one bar group (`\log|K|`).
    CallArg {
        func: String,
        func_span: Span,
        factor: bool,
    },
    /// `\sum_i` before its summand (a product, as for `\operatorname{tr} A B`), with the index
    /// letters it binds.
    SumArg {
        indices: Vec<char>,
        span: Span,
    },
}

impl Frame {
    fn min_bp(&self) -> u8 {
        match self {
            Frame::Prefix { .. } => PREFIX_BP,
            Frame::Binary { rbp, .. } => *rbp,
            Frame::CallArg { factor: true, .. } => FACTOR_BP,
            Frame::CallArg { factor: false, .. } | Frame::SumArg { .. } => MUL_BP.0,
            _ => 0,
        }
    }

    fn is_delimiter(&self) -> bool {
        !matches!(self, Frame::Prefix { .. } | Frame::Binary { .. } | Frame::CallArg { .. } | Frame::SumArg { .. })
    }

    /// The label of an "expected an expression" error while this frame waits.
    fn wants(&self) -> String {
        match self {
            Frame::Prefix { neg: true, .. } => "expected an operand for `-` here".into(),
            Frame::Prefix { neg: false, .. } => "expected an operand for `+` here".into(),
            Frame::Binary { implicit: true, .. } => "expected a factor here".into(),
            Frame::Binary { op, .. } => {
                format!("expected the right operand of `{}` here", op.symbol())
            }
            Frame::Group { delim, .. } => {
                format!("expected an expression inside `{}..{}`", delim.open(), delim.close())
            }
            Frame::Bars { double: false, .. } => "expected an expression inside `|..|`".into(),
            Frame::Bars { double: true, .. } => "expected an expression inside `\\|..\\|`".into(),
            Frame::FracNum { .. } => "expected the numerator of `\\frac` here".into(),
            Frame::FracDen { .. } => "expected the denominator of `\\frac` here".into(),
            Frame::Sup { .. } => "expected an exponent here".into(),
            Frame::CallGroup { func, .. } | Frame::CallArg { func, .. } => {
                format!("expected the argument of `{func}` here")
            }
            Frame::SumArg { .. } => "expected the summand of `\\sum` here".into(),
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    /// The token peeked but not consumed (one at most, so raw reads after `^` stay in step).
    ahead: Option<Token>,
    stack: Vec<Frame>,
    notes: Vec<String>,
}

impl<'a> Parser<'a> {
    // ----- tokens --------------------------------------------------------------------------

    fn peek(&mut self) -> Result<Token, Error> {
        if self.ahead.is_none() {
            self.ahead = Some(self.lexer.next_token()?);
        }
        Ok(self.ahead.clone().expect("just filled"))
    }

    fn bump(&mut self) {
        self.ahead = None;
    }

    /// One raw LaTeX unit (after `^`, or an unbraced `\frac` argument).
    fn unit(&mut self) -> Result<Token, Error> {
        debug_assert!(self.ahead.is_none());
        self.lexer.unit()
    }

    fn text(&self, span: Span) -> &'a str {
        self.src.get(span.start..span.end).unwrap_or("")
    }

    fn error(&self, span: Span, msg: impl Into<String>) -> Error {
        Error::new(Input::Expr, span, msg)
    }

    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// Source text for a note, shortened when long.
    fn quote(&self, span: Span) -> String {
        let text = self.text(span);
        if text.chars().count() <= 40 {
            text.to_string()
        } else {
            let head: String = text.chars().take(18).collect();
            let tail: String = text.chars().rev().take(18).collect::<Vec<_>>().into_iter().rev().collect();
            format!("{head}..{tail}")
        }
    }

    // ----- nesting limit ---------------------------------------------------------------------

    fn push(&mut self, frame: Frame, at: Span) -> Result<(), Error> {
        if self.stack.len() + 1 >= MAX_DEPTH {
            return Err(self.too_deep(at));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn node(&self, kind: ExprKind, span: Span, depth: usize, at: Span, tag: Tag) -> Result<Node, Error> {
        if depth > MAX_DEPTH {
            return Err(self.too_deep(at));
        }
        Ok(Node { expr: Expr { kind, span }, depth, tag })
    }

    fn leaf(kind: ExprKind, span: Span, tag: Tag) -> Node {
        Node { expr: Expr { kind, span }, depth: 1, tag }
    }

    fn too_deep(&self, at: Span) -> Error {
        self.error(at, format!("expression nested too deeply (more than {MAX_DEPTH} levels)"))
            .with_kind(crate::ErrorKind::Limit)
            .with_label("the nesting limit is exceeded here")
    }

    // ----- the loop ----------------------------------------------------------------------------

    fn expr(&mut self) -> Result<Node, Error> {
        'operand: loop {
            let mut lhs = self.operand()?;
            loop {
                let tok = self.peek()?;
                match tok.kind {
                    Tok::Quote => {
                        self.bump();
                        lhs = self.transpose(lhs, tok.span)?;
                        continue;
                    }
                    Tok::Caret => {
                        self.bump();
                        match self.superscript(lhs, tok.span)? {
                            Some(node) => lhs = node,
                            None => continue 'operand,
                        }
                        continue;
                    }
                    Tok::Underscore => {
                        self.bump();
                        lhs = self.subscript(lhs, tok.span)?;
                        continue;
                    }
                    _ => {}
                }
                if let Some(Infix { op, lbp, rbp, implicit }) = self.infix(&tok, &lhs)? {
                    if self.binds(lbp, implicit) {
                        let op_span = if implicit {
                            Span::new(tok.span.start, tok.span.start)
                        } else {
                            self.bump();
                            tok.span
                        };
                        self.push(Frame::Binary { lhs, op, op_span, rbp, implicit }, tok.span)?;
                        continue 'operand;
                    }
                }
                // Nothing continues `lhs`: it completes the innermost pending construct.
                let Some(frame) = self.stack.pop() else {
                    return Ok(lhs);
                };
                match self.reduce(frame, lhs, &tok)? {
                    Some(node) => lhs = node,
                    None => continue 'operand,
                }
            }
        }
    }

    /// The operator `tok` makes after `lhs`, if any: explicit, or a product by juxtaposition.
    fn infix(&self, tok: &Token, lhs: &Node) -> Result<Option<Infix>, Error> {
        let explicit = |op, (lbp, rbp)| Some(Infix { op, lbp, rbp, implicit: false });
        Ok(match &tok.kind {
            Tok::Plus => explicit(BinOp::Add, ADD_BP),
            Tok::Minus => explicit(BinOp::Sub, ADD_BP),
            Tok::Op(op @ (BinOp::EMul | BinOp::EDiv)) => explicit(*op, EMUL_BP),
            // `A : B` is read as sum(A.*B) when reduced (see `reduce`).
            Tok::Colon => Some(Infix { op: BinOp::Pow, lbp: COLON_BP.0, rbp: COLON_BP.1, implicit: false }),
            Tok::Op(op) => explicit(*op, MUL_BP),
            // A bar closes the innermost `|..|` unless the source says it opens (`\left|`).
            Tok::Bar { double, side } if *side != Side::Open && self.closes_bar(*double) => None,
            Tok::Num(_) if lhs.tag == Tag::Num => {
                return Err(self
                    .error(lhs.expr.span.join(tok.span), "two numbers side by side")
                    .with_label("is this one number, or a product?")
                    .with_note("write a product with `\\cdot`, e.g. `2 \\cdot 3`"));
            }
            _ if tok.starts_operand() => Some(Infix { op: BinOp::Mul, lbp: MUL_BP.0, rbp: MUL_BP.1, implicit: true }),
            _ => None,
        })
    }

    /// Whether an operator of left binding power `lbp` continues the operand being read.
    fn binds(&self, lbp: u8, implicit: bool) -> bool {
        match self.stack.last() {
            None => true,
            // `\operatorname{tr} A B \cdot C` is tr(A*B)*C: only juxtaposition extends the argument.
            Some(Frame::CallArg { factor: false, .. }) => implicit && lbp >= MUL_BP.0,
            Some(frame) => lbp >= frame.min_bp(),
        }
    }

    /// Whether a bar here closes the innermost open delimiter (rather than opening a new pair).
    fn closes_bar(&self, double: bool) -> bool {
        match self.stack.iter().rev().find(|f| f.is_delimiter()) {
            Some(Frame::Bars { double: d, .. }) => *d == double,
            _ => false,
        }
    }

    /// Read prefix signs and openers (pushing them) up to a complete atom.
    fn operand(&mut self) -> Result<Node, Error> {
        loop {
            let tok = self.peek()?;
            match tok.kind {
                Tok::Num(v) => {
                    self.bump();
                    return Ok(Self::leaf(ExprKind::Num(v), tok.span, Tag::Num));
                }
                Tok::Name(name) => {
                    self.bump();
                    return Ok(Self::leaf(ExprKind::Name(name), tok.span, Tag::Name));
                }
                Tok::Ones(c) => {
                    self.bump();
                    let arg = Expr { kind: ExprKind::Num(c), span: tok.span };
                    let kind = ExprKind::Call { func: "vector".into(), func_span: tok.span, args: vec![arg] };
                    return Ok(Node { expr: Expr { kind, span: tok.span }, depth: 2, tag: Tag::Plain });
                }
                Tok::Func(func) => {
                    self.bump();
                    self.open_function(func, tok.span)?;
                }
                Tok::Sum(indices) => {
                    self.bump();
                    self.open_sum(indices, tok.span)?;
                }
                Tok::Frac => {
                    self.bump();
                    if let Some(node) = self.open_frac(tok.span)? {
                        return Ok(node);
                    }
                }
                Tok::Open(Delim::Angle) => {
                    self.bump();
                    let frame = Frame::CallGroup {
                        func: ANGLE.into(),
                        func_span: tok.span,
                        delim: Delim::Angle,
                        open: tok.span,
                        args: vec![],
                        depth: 0,
                    };
                    self.push(frame, tok.span)?;
                }
                Tok::Open(delim) => {
                    self.bump();
                    self.push(Frame::Group { delim, open: tok.span }, tok.span)?;
                }
                Tok::Bar { double, side } if side != Side::Close => {
                    self.bump();
                    self.push(Frame::Bars { double, open: tok.span }, tok.span)?;
                }
                Tok::Plus | Tok::Minus => {
                    self.bump();
                    self.push(Frame::Prefix { neg: tok.kind == Tok::Minus, span: tok.span }, tok.span)?;
                }
                Tok::Top => return self.top_in_braces(tok),
                _ => return Err(self.expected_operand(&tok)),
            }
        }
    }

    fn expected_operand(&self, tok: &Token) -> Error {
        let label = self.stack.last().map_or_else(|| "expected an expression here".to_string(), Frame::wants);
        let err =
            self.error(tok.span, format!("expected an expression, found {}", tok.describe(self.src))).with_label(label);
        match &tok.kind {
            Tok::Close(d) if self.stack.is_empty() => {
                err.with_note(format!("this `{}` has no matching `{}`", d.close(), d.open()))
            }
            Tok::Bar { .. } => err.with_note("a closing bar needs an expression between the bars"),
            Tok::Caret | Tok::Underscore => err.with_note("a script must follow something, as in `x^2` or `W_1`"),
            Tok::Quote => err.with_note("a transpose must follow something, as in `x'`"),
            _ => err,
        }
    }

    // ----- functions, fractions, scripts ------------------------------------------------------

    /// After a function: a delimited argument (`\log(x)`, `\operatorname{tr}\left(..\right)`),
    /// one bar group (`\log|K|`), or a product (`\log\det K`, `\operatorname{tr} A B`).
    fn open_function(&mut self, func: String, func_span: Span) -> Result<(), Error> {
        let next = self.peek()?;
        let name = self.text(func_span).to_string();
        match next.kind {
            Tok::Open(Delim::Bracket) if func == "sqrt" => Err(self
                .error(next.span, "`\\sqrt[n]{..}` roots are not supported")
                .with_label("only square roots are read")
                .with_note("write a power instead, e.g. `x^{1/3}`")),
            Tok::Open(delim) if func != "sqrt" || delim == Delim::Brace => {
                self.bump();
                let frame = Frame::CallGroup { func, func_span, delim, open: next.span, args: vec![], depth: 0 };
                self.push(frame, next.span)
            }
            Tok::Bar { side, .. } if side != Side::Close && func != "sqrt" => {
                self.push(Frame::CallArg { func, func_span, factor: true }, func_span)
            }
            Tok::Caret if !func.contains('^') && func != "sqrt" && func != ANGLE => {
                self.bump();
                let p = self.function_power(func_span, next.span)?;
                self.note(format!("read `{name}^{p}(..)` as the power {name}(..)^{p}, entry by entry"));
                self.open_function(format!("{func}^{p}"), func_span)
            }
            Tok::Caret | Tok::Underscore => Err(self
                .error(func_span.join(next.span), format!("a script on the function `{name}` is not read"))
                .with_label("`\\log^2 x`, `\\log_2 x` and the like are not supported")
                .with_note(format!("write the power outside, e.g. `({name} x)^2`"))),
            _ if next.starts_operand() && func != "sqrt" => {
                self.push(Frame::CallArg { func, func_span, factor: false }, func_span)
            }
            _ => Err(self
                .error(next.span, format!("expected the argument of `{name}`, found {}", next.describe(self.src)))
                .with_label(if func == "sqrt" {
                    "expected `{` here".to_string()
                } else {
                    "expected an argument here".to_string()
                })
                .with_note(if func == "sqrt" {
                    "write e.g. `\\sqrt{x}`".to_string()
                } else {
                    format!("write e.g. `{name}(x)`")
                })),
        }
    }

    /// After `\frac`: refuse derivatives, then read the numerator (braced: push a frame).
    fn open_frac(&mut self, frac: Span) -> Result<Option<Node>, Error> {
        debug_assert!(self.ahead.is_none());
        if let Some(end) = self.lexer.frac_derivative() {
            return Err(self
                .error(Span::new(frac.start, end), "a derivative symbol is not an expression")
                .with_label("this is a derivative")
                .with_note("give the expression to differentiate, and the variable with --wrt"));
        }
        let tok = self.unit()?;
        if tok.kind == Tok::Open(Delim::Brace) {
            self.push(Frame::FracNum { frac, open: tok.span }, tok.span)?;
            return Ok(None);
        }
        let num = self.frac_unit(tok, "numerator")?;
        self.frac_denominator(frac, num)
    }

    fn frac_denominator(&mut self, frac: Span, num: Node) -> Result<Option<Node>, Error> {
        let tok = self.unit()?;
        if tok.kind == Tok::Open(Delim::Brace) {
            self.push(Frame::FracDen { frac, open: tok.span, num }, tok.span)?;
            return Ok(None);
        }
        let den = self.frac_unit(tok, "denominator")?;
        let span = frac.join(den.expr.span);
        self.binary(BinOp::Div, num, den, span, frac).map(Some)
    }

    /// An unbraced `\frac` argument: one digit or one letter (`\frac12`, `\frac ab`).
    fn frac_unit(&self, tok: Token, which: &str) -> Result<Node, Error> {
        match tok.kind {
            Tok::Num(v) => Ok(Self::leaf(ExprKind::Num(v), tok.span, Tag::Num)),
            Tok::Name(n) => Ok(Self::leaf(ExprKind::Name(n), tok.span, Tag::Name)),
            _ => Err(self
                .error(
                    tok.span,
                    format!("expected the {which} of `\\frac` in braces, found {}", tok.describe(self.src)),
                )
                .with_label("expected `{` here")
                .with_note("write `\\frac{a}{b}`")),
        }
    }

    fn binary(&self, op: BinOp, a: Node, b: Node, span: Span, at: Span) -> Result<Node, Error> {
        // `a + b + c` is one level, however long: only nesting counts.
        let depth = if chain_continues(op, &a.expr) { a.depth.max(1 + b.depth) } else { 1 + a.depth.max(b.depth) };
        if op == BinOp::Kron {
            let kind = ExprKind::Call { func: "kron".into(), func_span: at, args: vec![a.expr, b.expr] };
            return self.node(kind, span, depth, at, Tag::Plain);
        }
        self.node(ExprKind::Binary(op, Box::new(a.expr), Box::new(b.expr)), span, depth, at, Tag::Plain)
    }

    fn transpose(&self, base: Node, mark: Span) -> Result<Node, Error> {
        let span = base.expr.span.join(mark);
        self.node(ExprKind::Transpose(Box::new(base.expr)), span, base.depth + 1, mark, Tag::Plain)
    }

    /// `base^exp`; `e^{x}` is `exp(x)` when `e` is not a declared name.
    fn power(&mut self, base: Node, exp: Node, span: Span, at: Span) -> Result<Node, Error> {
        if base.tag == Tag::Name && base.expr.kind == ExprKind::Name("e".into()) && !self.lexer.is_declared("e") {
            self.note("read `e^{..}` as exp(..)".to_string());
            let depth = exp.depth + 1;
            let kind = ExprKind::Call { func: "exp".into(), func_span: base.expr.span, args: vec![exp.expr] };
            return self.node(kind, span, depth, at, Tag::Plain);
        }
        let tag = if base.tag == Tag::Norm { Tag::NormPow } else { Tag::Plain };
        let mut node = self.binary(BinOp::Pow, base, exp, span, at)?;
        node.tag = tag;
        Ok(node)
    }

    /// `A^{-1}` as the plain `A^-1` (the lowering makes it `inv` or a reciprocal).
    fn inverse(&mut self, base: Node, one: Span, span: Span, at: Span) -> Result<Node, Error> {
        let minus_one = Node {
            expr: Expr { kind: ExprKind::Neg(Box::new(Expr { kind: ExprKind::Num(1.0), span: one })), span: one },
            depth: 2,
            tag: Tag::Plain,
        };
        self.power(base, minus_one, span, at)
    }

    /// After `^`: `{..}` (push a frame), `T`/`\top` (transpose), a digit, a letter, `-1`.
    fn superscript(&mut self, base: Node, caret: Span) -> Result<Option<Node>, Error> {
        let tok = self.unit()?;
        let span = base.expr.span.join(tok.span);
        match tok.kind {
            Tok::Open(Delim::Brace) => {
                self.push(Frame::Sup { base, open: tok.span }, tok.span)?;
                Ok(None)
            }
            Tok::Top => self.transpose(base, tok.span).map(Some),
            Tok::Name(ref n) if n == "T" => self.transpose(base, tok.span).map(Some),
            Tok::Num(v) => {
                self.single_digit(tok.span)?;
                let exp = Self::leaf(ExprKind::Num(v), tok.span, Tag::Num);
                self.power(base, exp, span, caret).map(Some)
            }
            Tok::Name(n) => {
                let exp = Self::leaf(ExprKind::Name(n), tok.span, Tag::Name);
                self.power(base, exp, span, caret).map(Some)
            }
            Tok::Minus => {
                // `A^-1`: not LaTeX, but common and unambiguous.
                let next = self.unit()?;
                let span = base.expr.span.join(next.span);
                match next.kind {
                    Tok::Num(v) => {
                        self.single_digit(next.span)?;
                        let num = Expr { kind: ExprKind::Num(v), span: next.span };
                        let exp_span = tok.span.join(next.span);
                        let exp = Node {
                            expr: Expr { kind: ExprKind::Neg(Box::new(num)), span: exp_span },
                            depth: 2,
                            tag: Tag::Plain,
                        };
                        self.power(base, exp, span, caret).map(Some)
                    }
                    Tok::Top => self.inverse_transpose(base, next.span, span, caret).map(Some),
                    Tok::Name(ref n) if n == "T" => self.inverse_transpose(base, next.span, span, caret).map(Some),
                    _ => Err(self.bad_exponent(caret, &next)),
                }
            }
            _ => Err(self.bad_exponent(caret, &tok)),
        }
    }

    fn inverse_transpose(&mut self, base: Node, mark: Span, span: Span, at: Span) -> Result<Node, Error> {
        self.note("read `^{-T}` as the transpose of the inverse".to_string());
        let inv = self.inverse(base, mark, span, at)?;
        self.transpose(inv, mark)
    }

    /// `x^23` sets only the 2 as the exponent in LaTeX; refuse rather than read `x^2*3`.
    fn single_digit(&self, digit: Span) -> Result<(), Error> {
        if self.lexer.digit_follows() {
            let end =
                self.src[digit.start..].find(|c: char| !c.is_ascii_digit()).map_or(self.src.len(), |i| digit.start + i);
            let digits = &self.src[digit.start..end];
            return Err(self
                .error(Span::new(digit.start, end), format!("ambiguous exponent `{digits}`"))
                .with_label("LaTeX takes only the first digit as the exponent")
                .with_note(format!("write `^{{{digits}}}` for the power {digits}")));
        }
        Ok(())
    }

    fn bad_exponent(&self, caret: Span, tok: &Token) -> Error {
        self.error(tok.span.join(caret), format!("expected an exponent after `^`, found {}", tok.describe(self.src)))
            .with_label("expected an exponent here")
            .with_note("write `x^2`, `x^{n+1}`, `A^{-1}`, or `A^T` / `A^\\top` for a transpose")
    }

    /// `\top` read as an operand: only `^{\top}` or `^{-\top}` make sense.
    fn top_in_braces(&mut self, top: Token) -> Result<Node, Error> {
        let negated = matches!(self.stack.last(), Some(Frame::Prefix { neg: true, .. }))
            && matches!(self.stack.iter().rev().nth(1), Some(Frame::Sup { .. }));
        let direct = matches!(self.stack.last(), Some(Frame::Sup { .. }));
        if direct || negated {
            self.bump();
            let close = self.peek()?;
            if close.kind == Tok::Close(Delim::Brace) {
                self.bump();
                if negated {
                    self.stack.pop();
                }
                let Some(Frame::Sup { base, .. }) = self.stack.pop() else { unreachable!("checked above") };
                let span = base.expr.span.join(close.span);
                return if negated {
                    self.inverse_transpose(base, top.span, span, top.span)
                } else {
                    self.transpose(base, span)
                };
            }
        }
        Err(self
            .error(top.span, format!("{} is a transpose only as a whole exponent", top.describe(self.src)))
            .with_label("not read here")
            .with_note("write `A^\\top` or `A^{\\top}`"))
    }

    /// After `_`: names take it into the name (`W_1` is `W1`), norms take `2`, `F` or `1`.
    fn subscript(&mut self, base: Node, underscore: Span) -> Result<Node, Error> {
        debug_assert!(self.ahead.is_none());
        let bound = self.bound_indices();
        if !bound.is_empty() && matches!(base.tag, Tag::Name | Tag::Group) {
            return self.index_subscript(base, underscore, &bound);
        }
        match base.tag {
            Tag::Name => {
                let ExprKind::Name(name) = &base.expr.kind else { unreachable!("tagged as a name") };
                let (text, span) = self.lexer.subscript(underscore, false)?;
                let joined = format!("{name}{text}");
                let span = base.expr.span.join(span);
                Ok(Node { expr: Expr { kind: ExprKind::Name(joined), span }, depth: base.depth, tag: Tag::Indexed })
            }
            Tag::Indexed => Err(self
                .error(underscore, "a double subscript is not read")
                .with_label("this name already has a subscript")
                .with_note("write the whole subscript in braces, e.g. `W_{12}`")),
            Tag::Norm | Tag::NormPow => {
                let (text, span) = self.lexer.subscript(underscore, false)?;
                let func = match text.as_str() {
                    "2" | "F" | "fro" | "Fro" => "norm2",
                    "1" => "norm1",
                    _ => {
                        return Err(self
                            .error(underscore.join(span), format!("`\\|..\\|_{text}` is not a norm matdiff reads"))
                            .with_label("expected `_2`, `_F` or `_1`")
                            .with_note("`\\|x\\|_2` and `\\|A\\|_F` read as norm2 (the Frobenius norm of a matrix); `\\|x\\|_1` as norm1"))
                    }
                };
                let mut base = base;
                base.expr.span = base.expr.span.join(span);
                let call = match &mut base.expr.kind {
                    ExprKind::Binary(BinOp::Pow, inner, _) => inner.as_mut(),
                    _ => &mut base.expr,
                };
                if let ExprKind::Call { func: f, .. } = &mut call.kind {
                    *f = func.to_string();
                }
                if text == "2" && func == "norm2" {
                    self.note("read `\\|..\\|_2` as norm2 (for a matrix, the Frobenius norm)".to_string());
                }
                base.tag = Tag::Plain;
                Ok(base)
            }
            _ => Err(self
                .error(underscore, "a subscript can only follow a name or a norm")
                .with_label("not read here")
                .with_note("subscripts name variables (`W_1` is W1) or pick a norm (`\\|x\\|_2`)")),
        }
    }

    // ----- index sums ------------------------------------------------------------------------

    /// The letters bound by the sums being read.
    fn bound_indices(&self) -> Vec<char> {
        let mut out = vec![];
        for f in &self.stack {
            if let Frame::SumArg { indices, .. } = f {
                out.extend(indices.iter().copied());
            }
        }
        out
    }

    /// `\sum_..`: wait for the summand; a sum directly inside another (`\sum_i \sum_j`) joins it.
    fn open_sum(&mut self, indices: Vec<char>, span: Span) -> Result<(), Error> {
        let bound = self.bound_indices();
        if let Some(c) = indices.iter().find(|c| bound.contains(c)) {
            return Err(self
                .error(span, format!("the index `{c}` is already bound by an enclosing sum"))
                .with_label("bound twice")
                .with_note("give each sum its own index letter: `\\sum_i \\sum_j X_{ij}`"));
        }
        if let Some(Frame::SumArg { indices: outer, span: outer_span }) = self.stack.last_mut() {
            outer.extend(indices);
            *outer_span = outer_span.join(span);
            return Ok(());
        }
        self.push(Frame::SumArg { indices, span }, span)
    }

    /// A subscript inside a sum: an index of it (`x_i`, `X_{ij}`, `(Ax - b)_i`), marked until
    /// the sum is complete, or a part of a name as elsewhere (`W_1`); a letter the sums do not
    /// bind where an index is expected is an error, not a new variable.
    fn index_subscript(&mut self, base: Node, underscore: Span, bound: &[char]) -> Result<Node, Error> {
        let (text, span) = self.lexer.subscript(underscore, true)?;
        let script = underscore.join(span);
        let whole = base.expr.span.join(span);
        let letters: Vec<char> = text.chars().filter(|&c| c != ',').collect();
        let alphabetic = !letters.is_empty() && letters.iter().all(char::is_ascii_alphabetic);
        if alphabetic && letters.iter().all(|c| bound.contains(c)) {
            let func = format!("{INDEXED}{}", letters.iter().collect::<String>());
            let kind = ExprKind::Call { func, func_span: script, args: vec![base.expr] };
            return self.node(kind, whole, base.depth + 1, script, Tag::Indexed);
        }
        let joined = match &base.expr.kind {
            ExprKind::Name(name) if base.tag == Tag::Name => Some(format!("{name}{text}")),
            _ => None,
        };
        let lone_letter = letters.len() == 1 && letters[0].is_ascii_lowercase();
        let undeclared = joined.as_deref().is_none_or(|n| !self.lexer.is_declared(n));
        let index_like = letters.iter().any(|c| bound.contains(c)) || text.contains(',') || joined.is_none();
        if alphabetic && (index_like || (lone_letter && undeclared)) {
            let free: Vec<String> = letters.iter().filter(|c| !bound.contains(c)).map(|c| format!("`{c}`")).collect();
            let shown: Vec<String> = bound.iter().map(|c| format!("`{c}`")).collect();
            return Err(self
                .error(script, format!("{} is not an index of the sum", free.join(", ")))
                .with_label(format!("the sum binds {}", shown.join(", ")))
                .with_note(
                    "an entry uses the sum's indices (`\\sum_{i,j} X_{ij}`); declare the name if it is a variable",
                ));
        }
        let Some(joined) = joined.filter(|_| !text.contains(',')) else {
            return Err(self
                .error(script, "expected an index of the sum as the subscript")
                .with_label("this subscript is not read")
                .with_note("inside a sum, `(..)_i` picks entries: `\\sum_i (Ax - b)_i^2`"));
        };
        Ok(Node { expr: Expr { kind: ExprKind::Name(joined), span: whole }, depth: base.depth, tag: Tag::Indexed })
    }

    /// The complete summand of a sum: its marks resolved, inside `sum(..)`.
    fn close_sum(&mut self, indices: &[char], span: Span, summand: Node) -> Result<Node, Error> {
        let depth = summand.depth;
        let whole = span.join(summand.expr.span);
        let expr = sums::resolve(summand.expr.rebalance(), indices, span)?;
        let kind = ExprKind::Call { func: "sum".into(), func_span: span, args: vec![expr] };
        let node = self.node(kind, whole, depth + 2, span, Tag::Plain)?;
        let shown = self.quote(whole);
        self.note(format!("read `{shown}` as {}, a sum over every entry", to_plain_snippet(&node.expr, 60)));
        Ok(node)
    }

    // ----- completing frames -------------------------------------------------------------------

    /// Complete `frame` with its last operand `lhs`; `tok` (not consumed) follows `lhs`.
    /// `None` when another frame was pushed and an operand must be read first.
    fn reduce(&mut self, frame: Frame, lhs: Node, tok: &Token) -> Result<Option<Node>, Error> {
        let node = match frame {
            Frame::Prefix { neg, span } => {
                let span = span.join(lhs.expr.span);
                let kind = if neg { ExprKind::Neg(Box::new(lhs.expr)) } else { lhs.expr.into_kind() };
                self.node(kind, span, lhs.depth + 1, span, Tag::Plain)?
            }
            Frame::Binary { lhs: left, op_span, rbp, .. } if rbp == COLON_BP.1 => {
                let span = left.expr.span.join(lhs.expr.span);
                let depth = 2 + left.depth.max(lhs.depth);
                let prod = Expr { kind: ExprKind::Binary(BinOp::EMul, Box::new(left.expr), Box::new(lhs.expr)), span };
                let kind = ExprKind::Call { func: "sum".into(), func_span: op_span, args: vec![prod] };
                self.note("read `A : B` as sum(A.*B), the Frobenius product tr(A'*B)".to_string());
                self.node(kind, span, depth, op_span, Tag::Plain)?
            }
            Frame::Binary { lhs: left, op, op_span, .. } => {
                let span = left.expr.span.join(lhs.expr.span);
                self.binary(op, left, lhs, span, op_span)?
            }
            Frame::Group { delim, open } => {
                if tok.kind != Tok::Close(delim) {
                    return Err(self.unclosed(open, delim.close(), tok));
                }
                self.bump();
                // `{W}_1` and `\mathbf{W}_1` still take the subscript into the name.
                let tag = match delim {
                    Delim::Brace if lhs.tag == Tag::Name => Tag::Name,
                    Delim::Paren | Delim::Bracket => Tag::Group,
                    _ => Tag::Plain,
                };
                self.node(lhs.expr.into_kind(), open.join(tok.span), lhs.depth + 1, open, tag)?
            }
            Frame::Bars { double, open } => {
                let closes = matches!(tok.kind, Tok::Bar { double: d, side } if d == double && side != Side::Open);
                if !closes {
                    return Err(self.unclosed(open, if double { "\\|" } else { "|" }, tok));
                }
                self.bump();
                let span = open.join(tok.span);
                let (func, tag) = if double { ("norm2", Tag::Norm) } else { ("det", Tag::Plain) };
                if !double {
                    let shown = self.quote(span);
                    self.note(format!("read `{shown}` as det(..), the determinant"));
                }
                let kind = ExprKind::Call { func: func.into(), func_span: open, args: vec![lhs.expr] };
                self.node(kind, span, lhs.depth + 1, open, tag)?
            }
            Frame::FracNum { frac, open } => {
                if tok.kind != Tok::Close(Delim::Brace) {
                    return Err(self.unclosed(open, "}", tok));
                }
                self.bump();
                return self.frac_denominator(frac, lhs);
            }
            Frame::FracDen { frac, open, num } => {
                if tok.kind != Tok::Close(Delim::Brace) {
                    return Err(self.unclosed(open, "}", tok));
                }
                self.bump();
                self.binary(BinOp::Div, num, lhs, frac.join(tok.span), frac)?
            }
            Frame::Sup { base, open } => {
                if tok.kind != Tok::Close(Delim::Brace) {
                    return Err(self.unclosed(open, "}", tok));
                }
                self.bump();
                self.braced_exponent(base, lhs, open, tok.span)?
            }
            Frame::CallGroup { func, func_span, delim, open, mut args, depth } => {
                let depth = depth.max(lhs.depth);
                args.push(lhs.expr);
                match tok.kind {
                    Tok::Comma if delim == Delim::Paren || delim == Delim::Angle => {
                        self.bump();
                        self.push(Frame::CallGroup { func, func_span, delim, open, args, depth }, open)?;
                        return Ok(None);
                    }
                    Tok::Close(d) if d == delim => {
                        self.bump();
                        self.call(func, func_span, args, func_span.join(tok.span), depth)?
                    }
                    _ => return Err(self.unclosed(open, delim.close(), tok)),
                }
            }
            Frame::CallArg { func, func_span, .. } => {
                let span = func_span.join(lhs.expr.span);
                self.call(func, func_span, vec![lhs.expr], span, lhs.depth)?
            }
            Frame::SumArg { indices, span } => self.close_sum(&indices, span, lhs)?,
        };
        Ok(Some(node))
    }

    /// A completed call: `f(args)`, with what was read specially: a power on the function
    /// (`\tanh^2(z)`, entrywise: `tanh(z).^2`), `\sigma'(z)` (σ(z)⊙(1 − σ(z))) and
    /// `\langle a, b \rangle` (sum(a.*b), which is tr(a'*b)).
    fn call(
        &mut self,
        func: String,
        func_span: Span,
        mut args: Vec<Expr>,
        span: Span,
        depth: usize,
    ) -> Result<Node, Error> {
        let (func, power) = match func.split_once('^') {
            Some((f, p)) => (f.to_string(), p.parse::<f64>().ok()),
            None => (func, None),
        };
        let call =
            |func: &str, args: Vec<Expr>| Expr { kind: ExprKind::Call { func: func.into(), func_span, args }, span };
        let expr = if func == ANGLE {
            if args.len() != 2 {
                return Err(self
                    .error(span, format!("`\\langle..\\rangle` takes two arguments, got {}", args.len()))
                    .with_label("expected `\\langle a, b \\rangle`")
                    .with_note("the inner product of two vectors or matrices of one shape"));
            }
            let b = args.pop().unwrap();
            let a = args.pop().unwrap();
            self.note("read `\\langle a, b\\rangle` as sum(a.*b), the inner product tr(a'*b)".to_string());
            call("sum", vec![Expr { kind: ExprKind::Binary(BinOp::EMul, Box::new(a), Box::new(b)), span }])
        } else if func == SIGMOID_PRIME && args.len() == 1 {
            let s = call("sigmoid", args);
            let one = Expr { kind: ExprKind::Num(1.0), span: func_span };
            let rest = Expr { kind: ExprKind::Binary(BinOp::Sub, Box::new(one), Box::new(s.clone())), span };
            Expr { kind: ExprKind::Binary(BinOp::EMul, Box::new(s), Box::new(rest)), span }
        } else {
            call(&func, args)
        };
        let expr = match power {
            Some(p) => {
                let exp = Expr { kind: ExprKind::Num(p), span: func_span };
                Expr { kind: ExprKind::Binary(BinOp::EPow, Box::new(expr), Box::new(exp)), span }
            }
            None => expr,
        };
        self.node(expr.into_kind(), span, depth + 3, func_span, Tag::Plain)
    }

    /// The exponent of `\tanh^2`, `\log^{2}`: a positive integer (`^{-1}`, an inverse
    /// function, is not read).
    fn function_power(&mut self, func_span: Span, caret: Span) -> Result<u32, Error> {
        let bad = |p: &Self, at: Span| {
            p.error(func_span.join(at), "expected a power such as `^2` on the function")
                .with_label("only a positive integer power of a function is read")
                .with_note("`\\tanh^2(z)` is tanh(z)^2; write an inverse function out")
        };
        let tok = self.unit()?;
        let (value, end) = match tok.kind {
            Tok::Num(v) => {
                self.single_digit(tok.span)?;
                (v, tok.span)
            }
            Tok::Open(Delim::Brace) => {
                let num = self.peek()?;
                let Tok::Num(v) = num.kind else { return Err(bad(self, num.span)) };
                self.bump();
                let close = self.peek()?;
                if close.kind != Tok::Close(Delim::Brace) {
                    return Err(bad(self, close.span));
                }
                self.bump();
                (v, close.span)
            }
            _ => return Err(bad(self, tok.span.join(caret))),
        };
        if value < 1.0 || value.fract() != 0.0 || value > 64.0 {
            return Err(bad(self, end));
        }
        Ok(value as u32)
    }

    /// `base^{exp}`: `{T}` is a transpose, `{-T}` the transpose of the inverse; `{(1)}` is
    /// refused (a layer index, not a power).
    fn braced_exponent(&mut self, base: Node, exp: Node, open: Span, close: Span) -> Result<Node, Error> {
        let span = base.expr.span.join(close);
        let at = open;
        match &exp.expr.kind {
            ExprKind::Name(n) if n == "T" => return self.transpose(base, span),
            ExprKind::Neg(inner) if inner.kind == ExprKind::Name("T".into()) => {
                return self.inverse_transpose(base, exp.expr.span, span, at);
            }
            _ => {}
        }
        let text = self.text(exp.expr.span);
        if text.starts_with('(') && text.ends_with(')') {
            return Err(self
                .error(
                    open.join(close),
                    format!("a parenthesized superscript `^{{{text}}}` is neither a power nor read as an index"),
                )
                .with_label("ambiguous superscript")
                .with_note("write `W_{1}` for the variable W1, or `W^{2}` for a power"));
        }
        self.power(base, exp, span, at)
    }

    /// A delimiter frame met something other than its closer.
    fn unclosed(&self, open: Span, closer: &str, tok: &Token) -> Error {
        let opened = self.text(open);
        if tok.kind == Tok::Eof {
            return self
                .error(open, format!("unclosed `{opened}`"))
                .with_label(format!("this `{opened}` is never closed"))
                .with_note(format!("the input ended before a matching `{closer}`"));
        }
        let (line, col) = crate::parser::line_col(self.src, open.start);
        self.error(tok.span, format!("expected `{closer}`, found {}", tok.describe(self.src)))
            .with_label(format!("expected `{closer}` before this"))
            .with_note(format!("the `{opened}` at line {line}, column {col} is still open"))
    }

    /// After the expression: trailing `.`, `,`, `;` and `//` are ignored; then the end.
    fn finish(&mut self) -> Result<(), Error> {
        let first = self.peek()?;
        let mut tok = first.clone();
        while matches!(tok.kind, Tok::Dot | Tok::Comma | Tok::Semi | Tok::DoubleSlash) {
            self.bump();
            tok = self.peek()?;
        }
        if tok.kind == Tok::Eof {
            return Ok(());
        }
        let tok = first;
        Err(match tok.kind {
            Tok::Close(d) => self
                .error(tok.span, format!("unmatched `{}`", d.close()))
                .with_label(format!("there is no `{}` for this to close", d.open())),
            Tok::Bar { double, .. } => self
                .error(tok.span, format!("unmatched `{}`", if double { "\\|" } else { "|" }))
                .with_label("there is no opening bar for this to close"),
            Tok::Top => self
                .error(tok.span, format!("{} is a transpose only as an exponent", tok.describe(self.src)))
                .with_label("not read here")
                .with_note("write `A^\\top` or `A^{\\top}`"),
            Tok::Comma | Tok::Semi | Tok::Dot | Tok::DoubleSlash => self
                .error(
                    tok.span,
                    format!("expected an operator or the end of the expression, found {}", tok.describe(self.src)),
                )
                .with_label("punctuation is ignored only at the end")
                .with_note("give one expression"),
            _ => self
                .error(
                    tok.span,
                    format!("expected an operator or the end of the expression, found {}", tok.describe(self.src)),
                )
                .with_label("unexpected here"),
        })
    }
}
