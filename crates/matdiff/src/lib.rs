//! matdiff: symbolic gradients of scalar matrix expressions, in closed matrix form.
//!
//! This crate holds the features — [`Problem`] (the front door: text in, typed graph out,
//! gradients on top), claim checking ([`check`]), document auditing ([`audit`]), step-by-step
//! derivations ([`derivation`]), code export ([`emit`]), graph diagrams ([`diagram`]) and the
//! seed models — over the pipeline crates it re-exports:
//!
//! - [`matdiff_syntax`] ([`syntax`]): text (plain, LaTeX, declarations) to syntax tree, and the
//!   spanned [`Error`];
//! - [`matdiff_core`]: shapes, the IR with its simplifying constructors, lowering,
//!   differentiation, printing;
//! - [`matdiff_exec`]: the reference and compiled evaluators, finite differences.

pub mod audit;
pub mod check;
pub mod derivation;
pub mod diagram;
pub mod emit;
mod examples;
mod problem;
pub mod render;
pub mod report;
pub mod solve;

pub use matdiff_syntax as syntax;

pub use examples::{example, Example, EXAMPLES, SOLVE_EXAMPLES};
pub use matdiff_core::{
    default_kind, latex_name, num, print, print_shared, print_shared_named, Backward, Dim, DimId, DimTable, Func,
    Graph, Kind, Node, NodeId, Op, Printed, Push, Rule, Shape, Style, Var,
};
pub use matdiff_exec::{
    bind, central_differences, check_gradients, check_sizes, eval, eval_with_error, fd_gradient,
    fd_gradient_with_error, first_nonfinite, magnitudes, random_dims, random_env, rel_diff, rounding_error,
    symmetrize_for_fd, to_value, Compiled, Env, FdOutcome, FdReport, NonFinite, Value, FD_TOLERANCE,
};
pub use matdiff_syntax::{Error, ErrorKind, Input, Result, Span};
pub use problem::{Gradients, Problem};
