//! LaTeX input: a lexer and a stack-based parser that read LaTeX math into the plain syntax tree.
//!
//! The tree is the same [`Program`] the plain parser produces (so everything downstream is
//! shared), with spans into the LaTeX source. Readings that involve a choice (splitting `xy`
//! into a product, `|K|` as a determinant) are reported in [`LatexRead::notes`].

mod detect;
mod lexer;
mod parser;
mod plain;
mod sums;
pub(crate) mod tables;
pub(crate) mod words;

use super::ast::Program;
use crate::error::Error;

pub use detect::{looks_like_latex, looks_like_latex_with};
pub(crate) use plain::number;
pub use plain::{to_plain, to_plain_snippet};

/// A LaTeX expression read into the plain syntax tree, with notes on how it was read.
#[derive(Clone, Debug, PartialEq)]
pub struct LatexRead {
    /// The tree, as if the plain syntax had been written.
    pub program: Program,
    /// What was read and how: the plain form first (`read as: ...`), then each choice made,
    /// e.g. "read `xx` as x*x", "read `|K|` as det(K)".
    pub notes: Vec<String>,
}

/// Parse one LaTeX math expression. `names` are the declared (or otherwise known) variable
/// names, used to split juxtaposed letters (`xx^T` is `x*x'` unless `xx` is a name). Errors
/// carry spans into `src` (`Input::Expr`); nothing is guessed where the text is garbled.
pub fn parse_latex(src: &str, names: &[&str]) -> Result<LatexRead, Error> {
    parser::parse(src, names)
}
