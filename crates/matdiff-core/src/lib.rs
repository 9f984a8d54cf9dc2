//! matdiff's symbolic core: shapes over symbolic dimensions, the IR (a hash-consed DAG whose
//! constructors are the simplifier), lowering of syntax trees into it, reverse-mode
//! differentiation, and printing back to plain syntax and LaTeX.
//!
//! - [`lower`], [`lower_into`]: a [`matdiff_syntax::Program`] with its declarations to a typed
//!   [`Graph`] (names, functions and shapes resolved; errors carry spans);
//! - [`Graph`]: the DAG; nodes are only created by its canonicalizing constructors, which
//!   trust their operands' shapes — [`Graph::apply`] ([`Build`]) is the checked way in;
//! - [`gradients`]: reverse mode, recording every contribution ([`Push`]);
//! - [`jvp`]: forward mode (directional derivatives as nodes); [`linear_matrix`]: a map linear
//!   in a direction read off as its matrix (Jacobians in the vec layout);
//! - [`print()`], [`print_shared`]: re-parseable plain text or LaTeX ([`Style`]).

mod builtin;
mod chain;
mod diff;
mod forward;
mod ir;
mod linear;
mod lower;
mod print;
mod rule;
mod shape;

pub use builtin::Builtin;
pub use chain::{chain_order, ChainOrder};
pub use diff::{gradients, local_pushes, Backward, Push};
pub use forward::jvp;
pub use ir::{Build, Func, Graph, Node, NodeId, Num, Op, Var};
pub use linear::linear_matrix;
pub use lower::{default_kind, lower, lower_into, lower_into_like, lower_into_with, Kind, Lowered};
pub use print::{
    latex_name, num, print, print_compact, print_shared, print_shared_named, print_with_names, scaled_outer_factors,
    Printed, Style, MAX_INLINE_DEPTH,
};
pub use rule::{Rule, RuleInfo};
pub use shape::{Dim, DimId, DimTable, Shape};
