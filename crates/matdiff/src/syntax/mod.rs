//! Text to syntax tree: lexer and Pratt parser for the plain input language and declarations.

mod ast;
mod decl;
mod dump;
mod latex;
mod lexer;
mod parser;

pub use ast::*;
pub use decl::parse_decls;
pub use dump::to_sexpr;
pub use latex::{looks_like_latex, parse_latex, to_plain, LatexRead};
pub use parser::{parse_expr, parse_program};

/// The deepest syntax tree the parser produces. Nodes count, and so do parentheses and unary
/// `+`; later passes may recurse over trees this deep without worrying about the stack.
pub const MAX_DEPTH: usize = 256;

/// The longest input (in bytes) accepted by the parsers.
pub const MAX_INPUT_LEN: usize = 1_000_000;
