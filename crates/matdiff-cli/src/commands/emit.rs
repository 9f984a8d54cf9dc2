//! `--emit LANG`: the value and gradient (grad), a derivative (derivative) or second-order
//! results (hessian) as a NumPy, JAX, PyTorch or Rust module.

use super::{fail, Failure};
use crate::{Emit, ExprArgs};
use matdiff::derivative::Derivative;
use matdiff::emit::{Lang, Source};
use matdiff::{Gradients, Problem};

/// Print the generated module on stdout.
pub fn emit(p: &Problem, grads: &Gradients, input: &ExprArgs, lang: Emit) -> Result<u8, Failure> {
    let lang = self::lang(lang);
    let src = Source { expr: &input.expr, decls: &input.decl };
    let code = matdiff::emit::emit(p, grads, lang, src).map_err(|e| fail(&e, &input.expr, &input.decl))?;
    print!("{code}");
    Ok(0)
}

/// Print the module of a derivative, Hessian or Hessian-vector product on stdout.
pub fn emit_derivative(p: &Problem, d: &Derivative, input: &ExprArgs, lang: Emit) -> Result<u8, Failure> {
    let src = Source { expr: &input.expr, decls: &input.decl };
    let code =
        matdiff::emit::emit_derivative(p, d, self::lang(lang), src).map_err(|e| fail(&e, &input.expr, &input.decl))?;
    print!("{code}");
    Ok(0)
}

/// The library's language for a `--emit` value.
pub fn lang(e: Emit) -> Lang {
    match e {
        Emit::Numpy => Lang::Numpy,
        Emit::Jax => Lang::Jax,
        Emit::Torch => Lang::Torch,
        Emit::Rust => Lang::Rust,
    }
}
