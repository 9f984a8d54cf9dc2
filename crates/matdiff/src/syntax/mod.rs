//! Text to syntax tree: lexer and Pratt parser for the plain input language and declarations.

mod ast;

pub use ast::*;
