//! matdiff: symbolic gradients of scalar matrix expressions, in closed matrix form.
//!
//! Pipeline: text → [`syntax`] tree → shapes and IR (`lower`, a hash-consed DAG) →
//! reverse-mode differentiation (`diff`) with simplification in the IR constructors →
//! printing (`print`) and numeric evaluation (`eval`). [`Problem`] is the front door.

pub mod audit;
pub mod check;
pub mod derivation;
pub mod diagram;
mod diff;
pub mod emit;
mod error;
mod eval;
mod examples;
mod exec;
mod ir;
mod lower;
mod numcheck;
mod print;
mod problem;
mod shape;
pub mod syntax;

pub use diff::{Backward, Push, Rule};
pub use error::{Error, Input, Result, Span};
pub use eval::{bind, check_sizes, eval, to_value, Env, Value};
pub use examples::{example, Example, EXAMPLES};
pub use exec::Compiled;
pub use ir::{Func, Graph, Node, NodeId, Op, Var};
pub use lower::{default_kind, Kind};
pub use numcheck::{check_gradients, fd_gradient, random_dims, random_env, rel_err, FdReport};
pub use print::{latex_name, num, print, print_shared, print_shared_named, Printed, Style};
pub use problem::{Gradients, Problem};
pub use shape::{Dim, DimId, DimTable, Shape};
