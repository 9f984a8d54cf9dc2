//! The syntax tree: what the user wrote, with spans, before any shape is known.

use crate::error::Span;

/// A binary operator as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`: matrix product, or scaling when one side is a scalar.
    Mul,
    /// `/`: division by a scalar.
    Div,
    /// `.*`: elementwise product.
    EMul,
    /// `./`: elementwise division.
    EDiv,
    /// `.^`: elementwise power.
    EPow,
    /// `^`: scalar (or square-matrix integer) power.
    Pow,
    /// LaTeX's `\otimes` while it is read; the LaTeX reader turns it into the call `kron(a, b)`.
    Kron,
}

impl BinOp {
    /// The operator as written in the plain syntax.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::EMul => ".*",
            BinOp::EDiv => "./",
            BinOp::EPow => ".^",
            BinOp::Pow => "^",
            BinOp::Kron => "⊗",
        }
    }
}

/// What an expression is.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A numeric literal: `2`, `0.5`, `1e-3`.
    Num(f64),
    /// A variable, or `I`/`eye` used without arguments.
    Name(String),
    /// Unary minus.
    Neg(Box<Expr>),
    /// `a op b`.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// Postfix `'`.
    Transpose(Box<Expr>),
    /// `f(args)`; `func_span` covers the function name only.
    Call {
        /// The function's name as written.
        func: String,
        /// The span of the name.
        func_span: Span,
        /// The arguments in order.
        args: Vec<Expr>,
    },
}

/// An expression with the byte span it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is in the input.
    pub span: Span,
}

/// `name = value` before the final expression (let-style definitions).
#[derive(Clone, Debug, PartialEq)]
pub struct Def {
    /// The defined name.
    pub name: String,
    /// The span of the name.
    pub name_span: Span,
    /// The definition.
    pub value: Expr,
}

/// A whole input: zero or more definitions, then the expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// Definitions in source order (each may use the earlier ones).
    pub defs: Vec<Def>,
    /// The expression.
    pub body: Expr,
}

/// A dimension as written in a declaration: a name (`n`), a number (`3`), or a product of
/// those (`m*n`, the length of `vec(A)` for an m×n matrix A).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DimSpec {
    /// A named dimension (`n`).
    Name(String),
    /// A literal size (`3`).
    Num(usize),
    /// A product of dimensions (`m*n`).
    Product(Vec<DimSpec>),
}

/// The kind of a declared name, with the dimensions written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeclKind {
    /// `scalar`.
    Scalar,
    /// `vector(n)` or `vector`.
    Vector(Option<DimSpec>),
    /// `matrix(m,n)` or `matrix`.
    Matrix(Option<DimSpec>, Option<DimSpec>),
    /// `symmetric(n)` or `symmetric`: a square matrix with S' = S.
    Symmetric(Option<DimSpec>),
}

/// One declaration (`W: matrix(m,n)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decl {
    /// The declared name.
    pub name: String,
    /// Where the declaration is in the `--decl` text.
    pub span: Span,
    /// Its kind and dimensions.
    pub kind: DeclKind,
}

// ---------------------------------------------------------------------------------------------
// Long chains: `t0 + t1 + … + tₙ` and `t0 * t1 * … * tₙ` are written flat but parse into a
// left-deep tree of depth n. Nesting limits count only real nesting (`chain_continues`), so
// such chains may have 100,000 terms; `rebalance` then regroups a long chain into a balanced
// tree of depth log n, so every recursive walk over the tree (lowering, printing, cloning)
// stays shallow, and the tree is dismantled iteratively when dropped.

impl BinOp {
    /// Operators that chain associatively without adding nesting: `+`/`-` together, `*`, `.*`.
    fn chain_class(self) -> Option<u8> {
        match self {
            BinOp::Add | BinOp::Sub => Some(0),
            BinOp::Mul => Some(1),
            BinOp::EMul => Some(2),
            _ => None,
        }
    }
}

/// Whether `left op right` continues a chain `left` already is (`a + b` then `+ c`): such a
/// node does not count as a level of nesting.
pub fn chain_continues(op: BinOp, left: &Expr) -> bool {
    match (&left.kind, op.chain_class()) {
        (ExprKind::Binary(l, _, _), Some(c)) => l.chain_class() == Some(c),
        _ => false,
    }
}

impl Program {
    /// Every definition and the body with long chains regrouped ([`Expr::rebalance`]).
    pub fn rebalance(self) -> Program {
        Program {
            defs: self.defs.into_iter().map(|d| Def { value: d.value.rebalance(), ..d }).collect(),
            body: self.body.rebalance(),
        }
    }
}

/// Chains with more terms than this are regrouped; shorter ones keep the shape they were
/// written with (and so print exactly as before).
const REBALANCE_MIN_TERMS: usize = 32;

impl Expr {
    /// The node's kind, moved out (an `Expr` cannot be destructured: it implements `Drop`).
    pub fn into_kind(mut self) -> ExprKind {
        std::mem::replace(&mut self.kind, ExprKind::Num(0.0))
    }

    /// A placeholder left behind when a subtree is moved out.
    fn hole() -> Expr {
        Expr { kind: ExprKind::Num(0.0), span: Span::default() }
    }

    /// The same expression with every chain of more than 32 terms regrouped as a balanced
    /// tree of the same value (`a - b + c - d` as `(a - b) + (c - d)`; for a right half that
    /// starts with `-`, its signs flip: `(a + b) - (c - d)` for `a + b - c + d`).
    pub fn rebalance(mut self) -> Expr {
        let class = match &self.kind {
            ExprKind::Binary(op, _, _) => op.chain_class(),
            _ => None,
        };
        let Some(class) = class else {
            match &mut self.kind {
                ExprKind::Num(_) | ExprKind::Name(_) => {}
                ExprKind::Neg(a) | ExprKind::Transpose(a) => {
                    **a = std::mem::replace(&mut **a, Expr::hole()).rebalance()
                }
                ExprKind::Binary(_, a, b) => {
                    **a = std::mem::replace(&mut **a, Expr::hole()).rebalance();
                    **b = std::mem::replace(&mut **b, Expr::hole()).rebalance();
                }
                ExprKind::Call { args, .. } => {
                    for a in args.iter_mut() {
                        *a = std::mem::replace(a, Expr::hole()).rebalance();
                    }
                }
            }
            return self;
        };
        // The left spine of the chain, walked without recursion: (op, right operand) pairs from
        // the last back to the first, then the first term.
        let mut links: Vec<(BinOp, Span, Expr)> = vec![];
        let mut cur = self;
        loop {
            let same = matches!(&cur.kind, ExprKind::Binary(op, _, _) if op.chain_class() == Some(class));
            if !same {
                break;
            }
            let span = cur.span;
            let ExprKind::Binary(op, l, r) = std::mem::replace(&mut cur.kind, ExprKind::Num(0.0)) else {
                unreachable!()
            };
            links.push((op, span, *r));
            cur = *l;
        }
        let first = cur.rebalance();
        let mut terms: Vec<(BinOp, Span, Expr)> = Vec::with_capacity(links.len() + 1);
        terms.push((BinOp::Add, first.span, first));
        while let Some((op, span, e)) = links.pop() {
            terms.push((op, span, e.rebalance()));
        }
        if terms.len() <= REBALANCE_MIN_TERMS {
            // As written: left-deep, with the original spans.
            let mut it = terms.into_iter();
            let (_, _, mut acc) = it.next().unwrap();
            for (op, span, e) in it {
                acc = Expr { kind: ExprKind::Binary(op, Box::new(acc), Box::new(e)), span };
            }
            return acc;
        }
        balanced(terms)
    }
}

/// A balanced tree over `terms` (`terms[0]`'s operator is ignored: it is the first term; the
/// rest are `op term`). Signs of `+`/`-` chains are carried so the value is unchanged.
fn balanced(mut terms: Vec<(BinOp, Span, Expr)>) -> Expr {
    if terms.len() == 1 {
        return terms.pop().unwrap().2;
    }
    let right = terms.split_off(terms.len() / 2);
    let mut right = right;
    let op = right[0].0;
    if op == BinOp::Sub {
        // l - (r₀ ∓ r₁ …): the right half's own operators flip.
        for t in right.iter_mut().skip(1) {
            t.0 = if t.0 == BinOp::Sub { BinOp::Add } else { BinOp::Sub };
        }
    }
    let (l, r) = (balanced(terms), balanced(right));
    let span = l.span.join(r.span);
    Expr { kind: ExprKind::Binary(op, Box::new(l), Box::new(r)), span }
}

impl Drop for Expr {
    /// Dismantle the tree with an explicit stack: a 100,000-term chain that never got
    /// rebalanced (an error stopped the parser) must not overflow the native stack.
    fn drop(&mut self) {
        fn take(kind: &mut ExprKind, out: &mut Vec<Expr>) {
            match kind {
                ExprKind::Num(_) | ExprKind::Name(_) => {}
                ExprKind::Neg(a) | ExprKind::Transpose(a) => out.push(std::mem::replace(&mut **a, Expr::hole())),
                ExprKind::Binary(_, a, b) => {
                    out.push(std::mem::replace(&mut **a, Expr::hole()));
                    out.push(std::mem::replace(&mut **b, Expr::hole()));
                }
                ExprKind::Call { args, .. } => out.append(args),
            }
        }
        if matches!(self.kind, ExprKind::Num(_) | ExprKind::Name(_)) {
            return;
        }
        let mut stack = vec![];
        take(&mut self.kind, &mut stack);
        while let Some(mut e) = stack.pop() {
            take(&mut e.kind, &mut stack);
        }
    }
}
