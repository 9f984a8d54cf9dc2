//! `matdiff graph`: the computational graph as DOT or SVG (with `--wrt`, with adjoints).

use super::{fail, load, Failure};
use crate::{ExprArgs, GraphFormat};
use matdiff::derivation::{user_names, Derivation};
use matdiff::diagram;

pub fn graph(input: &ExprArgs, wrt: Option<&str>, format: GraphFormat) -> Result<u8, Failure> {
    let (expr, decl) = (input.expr.as_str(), input.decl.as_str());
    let mut p = load(input)?;
    let d = match wrt {
        Some(w) => {
            let names: Vec<&str> = w.split(',').map(|s| s.trim()).collect();
            let grads = p.gradients(&names).map_err(|e| fail(&e, expr, decl))?;
            let user = user_names(&p);
            Derivation::with_names(&p, &grads, &user)
        }
        None => {
            let user = user_names(&p);
            Derivation::forward_with_names(&p, &user)
        }
    };
    match format {
        GraphFormat::Dot => print!("{}", diagram::dot(&d)),
        GraphFormat::Svg => print!("{}", diagram::svg(&d).map_err(|e| fail(&e, expr, decl))?),
    }
    Ok(0)
}
