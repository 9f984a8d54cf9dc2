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
//!
//! # The main flows
//!
//! A gradient in closed form, checked by central differences:
//!
//! ```
//! use matdiff::{Problem, Style};
//!
//! let mut p = Problem::new("0.5*norm2(W'*W*x - x)^2", "W: matrix(m,n); x: vector(n)")?;
//! let grads = p.gradients(&["W"])?;
//! let w = p.print(grads.nodes[0], Style::Plain);
//! assert!(w.contains("W*"), "{w}");
//! assert_eq!(p.fd_check(&grads, 7, 2).outcome(), matdiff::FdOutcome::Agrees);
//! # Ok::<(), matdiff::Error>(())
//! ```
//!
//! A claimed gradient judged (symbolically when the canonical forms agree, else at random
//! points), with a diagnosis when it is wrong:
//!
//! ```
//! use matdiff::check::{CheckOptions, Checker, Diagnosis};
//! use matdiff::Problem;
//!
//! let p = Problem::new("x'*A*x", "A: matrix(n,n); x: vector(n)")?;
//! let mut checker = Checker::new(p, "x", CheckOptions::default())?;
//! assert!(checker.check("(A + A')*x")?.right);
//! let wrong = checker.check("2*A*x")?;
//! assert!(!wrong.right);
//! assert!(wrong.diagnoses.contains(&Diagnosis::SymmetricOnly { matrices: vec!["A".into()] }));
//! # Ok::<(), matdiff::Error>(())
//! ```
//!
//! A homework document audited against a problem file: every step of a derivation read
//! (plain or LaTeX) and compared with the true gradient:
//!
//! ```
//! use matdiff::audit::{auditor, Answer};
//!
//! let problem = r#"
//! title = "Ridge regression"
//! decl = "X: matrix(N,D); w: vector(D); y: vector(N); lambda: scalar"
//! [[question]]
//! id = "grad_w"
//! title = "gradient w.r.t. w"
//! loss = "0.5*norm2(X*w - y)^2 + lambda/2*norm2(w)^2"
//! wrt = "w"
//! "#;
//! let doc = r"$$\nabla_w L = X^T (X w - y) + \lambda w$$";
//! let report = auditor(problem)?.audit(doc);
//! assert_eq!(report.questions[0].answer, Answer::Right);
//! # Ok::<(), matdiff::Error>(())
//! ```
//!
//! Compile a value and its gradient once, run them many times (faer matrices in, in the order
//! of the problem's variables):
//!
//! ```
//! use faer::Mat;
//! use matdiff::{Compiled, Problem};
//!
//! let mut p = Problem::new("sum(softplus(A*x)) + 0.5*norm2(x)^2", "A: matrix(N,d); x: vector(d)")?;
//! let grads = p.gradients(&["x"])?;
//! let mut compiled = Compiled::new(p.graph(), &[p.output, grads.nodes[0]]);
//! let a = Mat::<f64>::from_fn(5, 3, |i, j| (i + 2 * j) as f64 / 10.0);
//! let x = Mat::<f64>::from_fn(3, 1, |i, _| i as f64 - 1.0);
//! let out = compiled.run(&[a.as_ref(), x.as_ref()])?;
//! assert_eq!((out[1].nrows(), out[1].ncols()), (3, 1));
//! # Ok::<(), matdiff::Error>(())
//! ```
//!
//! Export the gradient as a NumPy module (also JAX, PyTorch and Rust), with a
//! finite-difference `check_gradient()` inside:
//!
//! ```
//! use matdiff::emit::{emit, Lang, Source};
//! use matdiff::Problem;
//!
//! let (expr, decls) = ("0.5*norm2(A*x - b)^2", "A: matrix(m,n); x: vector(n); b: vector(m)");
//! let mut p = Problem::new(expr, decls)?;
//! let grads = p.gradients(&["x"])?;
//! let module = emit(&p, &grads, Lang::Numpy, Source { expr, decls })?;
//! assert!(module.contains("def f_and_grad("));
//! # Ok::<(), matdiff::Error>(())
//! ```

pub mod audit;
pub mod check;
pub mod derivation;
pub mod derivative;
pub mod diagram;
pub mod emit;
mod examples;
mod problem;
mod readable;
pub mod render;
pub mod report;
pub mod solve;

pub use matdiff_syntax as syntax;

pub use examples::{example, Example, EXAMPLES, SOLVE_EXAMPLES};
pub use matdiff_core::{
    default_kind, latex_name, num, print, print_compact, print_shared, print_shared_named, print_with_names, Backward,
    Build, Dim, DimId, DimTable, Func, Graph, Kind, Node, NodeId, Op, Printed, Push, Rule, Shape, Style, Var,
};
pub use matdiff_exec::{
    bind, central_differences, check_gradients, check_sizes, eval, eval_with_error, fd_gradient,
    fd_gradient_with_error, first_nonfinite, magnitudes, random_dims, random_env, rel_diff, rounding_error,
    symmetrize_for_fd, to_value, Compiled, Env, FdOutcome, FdReport, NonFinite, Value, FD_TOLERANCE,
};
pub use matdiff_syntax::{Error, ErrorKind, Input, Result, Span};
pub use problem::{Gradients, Problem};
