//! matdiff's syntax: text to syntax tree, with byte spans, for the plain input language, LaTeX
//! and `--decl` declarations, and the spanned [`Error`] every later phase reports.
//!
//! - [`parse_expr`], [`parse_program`]: a hand-written lexer and a stack-based Pratt parser
//!   (no recursion, depth bounded by [`MAX_DEPTH`]);
//! - [`parse_decls`]: declarations (`W: matrix(m,n); s: scalar`);
//! - [`parse_latex`]: LaTeX math read into the same tree, with notes on each reading choice;
//! - the tree itself ([`Program`], [`Expr`], [`Decl`]), and [`to_sexpr`] to dump it;
//! - [`budget`]: the cooperative cancellation every later phase's long loops check.

mod ast;
pub mod budget;
mod decl;
mod dump;
mod error;
mod latex;
mod lexer;
mod parser;

pub use ast::*;
pub use decl::parse_decls;
pub use dump::to_sexpr;
pub use error::{Error, ErrorKind, Input, Result, Span};
pub use latex::{looks_like_latex, looks_like_latex_with, parse_latex, to_plain, to_plain_snippet, LatexRead};
pub use parser::{parse_expr, parse_plain, parse_program, PlainMode, PlainRead};

/// The deepest syntax tree the parser produces. Nodes count, and so do parentheses and unary
/// `+`; later passes may recurse over trees this deep without worrying about the stack.
pub const MAX_DEPTH: usize = 256;

/// The functions of the language (`exp(x)`, `tr(A)`, `eye(n)`, …): a name before `(` that is
/// one of these (and not a declared name) is a call; any other is a product (`A(x + b)`).
pub const FUNCTIONS: &[&str] = &[
    "exp",
    "log",
    "sin",
    "cos",
    "tan",
    "tanh",
    "sqrt",
    "abs",
    "sign",
    "relu",
    "sigmoid",
    "softplus",
    "swish",
    "step",
    "sum",
    "norm1",
    "norm2",
    "tr",
    "trace",
    "det",
    "logdet",
    "inv",
    "diag",
    "eye",
    "vector",
    "matrix",
    "transpose",
    "kron",
    "vec",
    "unvec",
    "commutation",
    "softmax",
];

/// The longest input (in bytes) accepted by the parsers.
pub const MAX_INPUT_LEN: usize = 1_000_000;
