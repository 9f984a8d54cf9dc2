//! Code export: a self-contained NumPy, JAX, PyTorch or Rust module computing the value and
//! gradient of a problem, with shape checks and a finite-difference `check_gradient`.
//!
//! Pure string generation from the IR. Shared work: the signature and shape checks, the
//! schedule of named values (a local for every value the code uses twice, computed once), and
//! the decomposition of product chains (outer products at rank-one joints, solves instead of
//! inverses, run-time chain ordering for the rest); each target writes the operations.

mod chain;
mod helpers;
mod names;
mod plan;
mod python;
mod rust;
mod template;

use crate::derivative::{Derivative, Layout, Order};
use crate::problem::{Gradients, Problem};
use matdiff_core::NodeId;
use matdiff_syntax::{Error, ErrorKind, Input, Result};

/// A target language for [`emit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    /// NumPy.
    Numpy,
    /// JAX (`jax.numpy`), with `jax.grad` cross-checks.
    Jax,
    /// PyTorch.
    Torch,
    /// Rust over faer.
    Rust,
}

impl Lang {
    /// Every language.
    pub const ALL: [Lang; 4] = [Lang::Numpy, Lang::Jax, Lang::Torch, Lang::Rust];
    /// The name on the command line (`numpy`, `jax`, `torch`, `rust`).
    pub fn name(self) -> &'static str {
        match self {
            Lang::Numpy => "numpy",
            Lang::Jax => "jax",
            Lang::Torch => "torch",
            Lang::Rust => "rust",
        }
    }
    /// The language called `name` on the command line.
    pub fn from_name(name: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.name() == name)
    }
    /// File extension of the generated module.
    pub fn extension(self) -> &'static str {
        match self {
            Lang::Rust => "rs",
            _ => "py",
        }
    }
}

/// A closed-form update of one variable (from `solve`), exported next to `f_and_grad`.
#[derive(Clone, Debug)]
pub struct Update {
    /// The variable updated (index into `Graph::vars`).
    pub var: usize,
    /// Its closed form, free of it.
    pub node: NodeId,
    /// One line for the documentation: the formula, its kind and conditions.
    pub summary: String,
}

/// The text the problem came from, quoted in the generated module's documentation. (The
/// parameter order comes from the problem's own parsed declarations.)
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// The expression as the user wrote it.
    pub expr: &'a str,
    /// The declarations as the user wrote them.
    pub decls: &'a str,
}

/// Declared names, in declaration order (the problem keeps its parsed declarations).
pub(crate) fn decl_order(problem: &Problem) -> Vec<String> {
    problem.decls().iter().map(|d| d.name.clone()).collect()
}

/// The generated function's parameters in order, as `(variable, parameter name)`: declared
/// variables in declaration order, then the others in order of appearance. A name the
/// language reserves gets a trailing `_` (`lambda` → `lambda_` in Python).
pub fn parameters(problem: &Problem, lang: Lang) -> Vec<(String, String)> {
    let g = &problem.graph;
    let ps = plan::params(g, &decl_order(problem));
    let mut namer = names::Namer::new(match lang {
        Lang::Rust => names::RUST_RESERVED,
        _ => names::PYTHON_RESERVED,
    });
    let names = plan::param_names(g, &ps, &mut namer);
    ps.iter().map(|p| (g.vars()[p.var].name.clone(), names[p.var].clone())).collect()
}

/// Generate a module defining `f_and_grad(<variables>)` → `(value, gradient)` (a tuple of
/// gradients when `grads` has several) and `check_gradient()`.
///
/// Parameters come in declaration order, then undeclared variables in order of appearance.
/// Fails when a dimension cannot be read off the inputs (it appears only in `eye(n)`).
pub fn emit(problem: &Problem, grads: &Gradients, lang: Lang, src: Source) -> Result<String> {
    if grads.vars.is_empty() {
        return Err(Error::unspanned(Input::None, "cannot export code without a variable to differentiate")
            .with_kind(ErrorKind::Unsupported));
    }
    match lang {
        Lang::Numpy => python::emit(python::Flavor::Numpy, problem, grads, &src),
        Lang::Jax => python::emit(python::Flavor::Jax, problem, grads, &src),
        Lang::Torch => python::emit(python::Flavor::Torch, problem, grads, &src),
        Lang::Rust => rust::emit(problem, grads, &src),
    }
}

/// Generate a module defining `f_and_grad(<variables>)` (for `grads`, the gradient of the
/// updated variable), `update_<var>(<the other variables>)` returning the closed form, and
/// `check_update()`, which checks at random inputs that the gradient vanishes at the update
/// (relative to its size at a random point). Fails when a dimension follows only from the
/// updated variable.
pub fn emit_update(problem: &Problem, grads: &Gradients, update: &Update, lang: Lang, src: Source) -> Result<String> {
    match lang {
        Lang::Numpy => python::emit_update(python::Flavor::Numpy, problem, grads, update, &src),
        Lang::Jax => python::emit_update(python::Flavor::Jax, problem, grads, update, &src),
        Lang::Torch => python::emit_update(python::Flavor::Torch, problem, grads, update, &src),
        Lang::Rust => rust::emit_update(problem, grads, update, &src),
    }
}

/// Generate a module for a derivative made by [`crate::derivative`], in `lang`:
///
/// - [`derivative`](crate::derivative::derivative): `f_value(<variables>)` (the expression) and
///   `jacobian(<variables>)` (the derivative in its layout: the gradient, the entrywise
///   derivative, the m×n Jacobian or ∂vec(f)/∂vec(X)ᵀ), with `check_jacobian()` against central
///   differences of `f_value`;
/// - [`hessian`](crate::derivative::hessian): `f_grad_hess(<variables>)` → (value, gradient,
///   Hessian), the Hessian n×n for a vector, mn×mn w.r.t. vec(X) for a matrix, a number for a
///   scalar, with `check_hessian()` (the gradient against differences of the value, the Hessian
///   against differences of the gradient);
/// - [`hvp`](crate::derivative::hvp): `f_grad_hvp(<variables>, V)` → (value, gradient, the
///   Hessian applied to V, shaped like the variable, written without a Kronecker product or
///   the Hessian), with `check_hvp()`.
///
/// Fails (`Unsupported`) when a dimension cannot be read off the inputs.
pub fn emit_derivative(problem: &Problem, d: &Derivative, lang: Lang, src: Source) -> Result<String> {
    match lang {
        Lang::Numpy => python::emit_derivative(python::Flavor::Numpy, problem, d, &src),
        Lang::Jax => python::emit_derivative(python::Flavor::Jax, problem, d, &src),
        Lang::Torch => python::emit_derivative(python::Flavor::Torch, problem, d, &src),
        Lang::Rust => rust::emit_derivative(problem, d, &src),
    }
}

/// The function a derivative module exports, its roots and their names, and its check.
pub(crate) struct Exported {
    /// `jacobian`, `f_grad_hess` or `f_grad_hvp`.
    pub function: &'static str,
    /// `check_jacobian`, `check_hessian` or `check_hvp`.
    pub check: &'static str,
    /// What the function returns (the value function `f_value` comes first for `jacobian`).
    pub roots: Vec<NodeId>,
    /// The names the roots are wanted under.
    pub names: Vec<String>,
    /// One line for the documentation: what the derivative is and its layout.
    pub summary: String,
}

/// What a module for `d` exports.
pub(crate) fn exported(p: &Problem, d: &Derivative) -> Exported {
    let g = &p.graph;
    let x = &g.vars()[d.var].name;
    let size = p.shape_names(d.root).join("×");
    let size = if size.is_empty() { "a number".to_string() } else { size };
    match d.order {
        Order::First => {
            let what = match d.layout {
                Layout::Gradient => format!("the gradient w.r.t. {x} (shaped like {x})"),
                Layout::Elementwise => format!("the entrywise derivative by {x} (shaped like f)"),
                Layout::Jacobian => format!("the Jacobian J[i, j] = ∂f_i/∂{x}_j"),
                Layout::Vec => format!("∂vec(f)/∂vec({x})ᵀ, vec column-major"),
            };
            Exported {
                function: "jacobian",
                check: "check_jacobian",
                roots: vec![p.output, d.root],
                names: vec!["f".into(), "jac".into()],
                summary: format!("{what}; layout \"{}\", {size}", d.layout.name()),
            }
        }
        Order::Hessian => {
            let what = match d.layout {
                Layout::Vec => format!("the Hessian w.r.t. vec({x}) (vec column-major)"),
                Layout::Jacobian => format!("the Hessian w.r.t. {x}"),
                _ => "the second derivative".to_string(),
            };
            Exported {
                function: "f_grad_hess",
                check: "check_hessian",
                roots: vec![p.output, d.of, d.root],
                names: vec!["f".into(), format!("grad_{x}"), format!("hess_{x}")],
                summary: format!("{what}; layout \"{}\", {size}", d.layout.name()),
            }
        }
        Order::Hvp => {
            let v = d.direction.map_or("V", |v| g.vars()[v].name.as_str());
            Exported {
                function: "f_grad_hvp",
                check: "check_hvp",
                roots: vec![p.output, d.of, d.root],
                names: vec!["f".into(), format!("grad_{x}"), format!("hvp_{x}")],
                summary: format!("the Hessian-vector product d/dt ∇f({x} + t·{v}) at t = 0, shaped like {x}"),
            }
        }
    }
}
