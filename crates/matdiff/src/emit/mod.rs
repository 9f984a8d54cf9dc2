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
