//! The syntax tree: what the user wrote, with spans, before any shape is known.

use crate::error::Span;

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

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A numeric literal: `2`, `0.5`, `1e-3`.
    Num(f64),
    /// A variable, or `I`/`eye` used without arguments.
    Name(String),
    /// Unary minus.
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// Postfix `'`.
    Transpose(Box<Expr>),
    /// `f(args)`; `func_span` covers the function name only.
    Call {
        func: String,
        func_span: Span,
        args: Vec<Expr>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// `name = value` before the final expression (let-style definitions).
#[derive(Clone, Debug, PartialEq)]
pub struct Def {
    pub name: String,
    pub name_span: Span,
    pub value: Expr,
}

/// A whole input: zero or more definitions, then the expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub defs: Vec<Def>,
    pub body: Expr,
}

/// A dimension as written in a declaration: a name (`n`), a number (`3`), or a product of
/// those (`m*n`, the length of `vec(A)` for an m×n matrix A).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DimSpec {
    Name(String),
    Num(usize),
    Product(Vec<DimSpec>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeclKind {
    Scalar,
    /// `vector(n)` or `vector`.
    Vector(Option<DimSpec>),
    /// `matrix(m,n)` or `matrix`.
    Matrix(Option<DimSpec>, Option<DimSpec>),
    /// `symmetric(n)` or `symmetric`: a square matrix with S' = S.
    Symmetric(Option<DimSpec>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decl {
    pub name: String,
    pub span: Span,
    pub kind: DeclKind,
}
