//! `matdiff check`: is a claimed gradient right? Exit 0 right, 1 wrong, 2 user error.

use super::{load, Failure};
use crate::{ConventionArg, ExprArgs, Format};
use matdiff::check::{CheckOptions, Checker, Convention};
use matdiff::derivative::{self, Layout};
use matdiff::render::{render, Sources};
use matdiff::report::{verdict_json, verdict_text_of};

/// What the claim is claimed to be.
pub enum Target {
    /// The gradient (the default).
    Gradient,
    /// The derivative in the layout of `matdiff derivative`.
    Derivative,
    /// The Hessian, or with a direction name the Hessian-vector product.
    Hessian(Option<String>),
}

pub fn check(
    input: &ExprArgs,
    wrt: &str,
    claim: &str,
    format: Format,
    target: Target,
    convention: ConventionArg,
) -> Result<u8, Failure> {
    let (expr, decl) = (input.expr.as_str(), input.decl.as_str());
    let fail = |e: &matdiff::Error| render(e, &Sources { expr, decl, claim });
    if matches!(format, Format::Latex | Format::Markdown) {
        return Err("error: `check` prints `--format text` or `--format json`\n".into());
    }
    let mut problem = load(input)?;
    let wrt = wrt.trim();
    let convention: Convention = convention.into();
    let opts = CheckOptions { convention, ..CheckOptions::default() };
    let (mut checker, what) = match target {
        Target::Gradient => (Checker::new(problem, wrt, opts).map_err(|e| fail(&e))?, "gradient"),
        other => {
            let (d, what) = match &other {
                Target::Hessian(Some(v)) => (derivative::hvp(&mut problem, wrt, v), "Hessian-vector product"),
                Target::Hessian(None) => (derivative::hessian(&mut problem, wrt), "Hessian"),
                _ => (derivative::derivative(&mut problem, wrt), "derivative"),
            };
            let d = d.map_err(|e| fail(&e))?;
            let jacobian = matches!(d.layout, Layout::Jacobian | Layout::Vec);
            let c = Checker::for_target(problem, wrt, d.root, jacobian, opts).map_err(|e| fail(&e))?;
            (c, what)
        }
    };
    let verdict = checker.check(claim).map_err(|e| fail(&e))?;
    match format {
        Format::Json => {
            let mut o = verdict_json(&verdict);
            o["target"] = serde_json::json!(what);
            println!("{}", serde_json::to_string_pretty(&o).unwrap())
        }
        _ => print!("{}", verdict_text_of(&verdict, wrt, what)),
    }
    Ok(if verdict.right { 0 } else { 1 })
}
